"""One adapter per port, on the Azure SDKs: ARM registry rules, blob-lease lock, Table Storage
grants, audit and deliveries, the Storage queue."""
