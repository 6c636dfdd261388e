"""In-memory fakes of every port, held to the same contract tests as the Azure adapters
(`tests/contracts/`), so flow tests run fast on them and stay honest."""
