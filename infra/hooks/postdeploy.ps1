# azd postdeploy hook for Windows (pwsh); postdeploy.sh is the same for macOS and Linux. azd runs
# it in the project folder after every `azd deploy` / `azd up`, with the environment's values and
# the template's outputs in the environment.
#
# Runs the service-tag refresh now (the daily timer would first run at its schedule, and until
# then the diagnosis cannot recognise Azure-owned addresses): it asks the Functions host to run
# the `refresh_service_tags` timer function (the admin API, with the host's master key), retrying
# while the freshly deployed app starts. Then it says how to run the app's own checks.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Fail([string] $message) {
    Write-Error "postdeploy: $message"
    exit 1
}

foreach ($name in 'AZURE_ENV_NAME', 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'AZURE_FUNCTION_APP_URL') {
    if (-not [Environment]::GetEnvironmentVariable($name)) { Fail "$name is not set; run it through azd after azd provision" }
}
$tries = if ($env:ACRBOT_HOOK_TRIES) { [int] $env:ACRBOT_HOOK_TRIES } else { 6 }
$wait = if ($env:ACRBOT_HOOK_WAIT) { [int] $env:ACRBOT_HOOK_WAIT } else { 10 }

$key = az functionapp keys list --resource-group $env:AZURE_RESOURCE_GROUP --name $env:AZURE_FUNCTION_APP_NAME --query masterKey --output tsv
if ($LASTEXITCODE -ne 0 -or -not $key) { Fail "could not read the app's host keys (az functionapp keys list)" }

$started = $false
for ($i = 1; $i -le $tries; $i++) {
    try {
        Invoke-RestMethod -Method Post -Uri "$($env:AZURE_FUNCTION_APP_URL)/admin/functions/refresh_service_tags" `
            -Headers @{ 'x-functions-key' = $key } -ContentType 'application/json' -Body '{"input": ""}' -TimeoutSec 30 | Out-Null
        $started = $true
        break
    } catch {
        if ($i -lt $tries) {
            Write-Host "  the app is starting; asking again in $wait s"
            Start-Sleep -Seconds $wait
        }
    }
}
if ($started) {
    Write-Host 'Service-tag refresh started in the app (it takes a minute; then the diagnosis knows Azure''s addresses).'
} else {
    Write-Warning 'postdeploy: the service-tag refresh was not started; the daily timer will run it, or: python -m bot refresh-service-tags'
}

Write-Host "Next: install .azure/$($env:AZURE_ENV_NAME)/slack-manifest.json in Slack, then check everything:"
Write-Host "  `$env:ACRBOT_FUNCTION_KEY = az functionapp keys list -g $($env:AZURE_RESOURCE_GROUP) -n $($env:AZURE_FUNCTION_APP_NAME) --query functionKeys.default -o tsv"
Write-Host "  .venv\Scripts\python -m bot doctor --app --env-file .azure/$($env:AZURE_ENV_NAME)/.env"
