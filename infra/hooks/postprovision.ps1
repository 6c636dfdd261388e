# azd postprovision hook for Windows (pwsh); postprovision.sh is the same for macOS and Linux, and
# the two do the same steps in the same order. azd runs it in the project folder after every
# `azd provision` / `azd up`, with the environment's values and the template's outputs in the
# environment.
#
# 1. Renders the Slack app manifest with this deployment's request URL:
#    manifest.template.json -> .azure/<env>/slack-manifest.json (install that one in Slack).
# 2. Puts the Slack bot token and signing secret in Key Vault: from the azd environment
#    (ACRBOT_SLACK_BOT_TOKEN, ACRBOT_SLACK_SIGNING_SECRET) if set there, else asked for when the
#    vault does not hold them yet. A secret never appears on a command line.
# 3. When a secret was set, changes an app setting (ACRBOT_SECRETS_SET_AT): App Service resolves
#    Key Vault references again on a configuration change; a restart alone does not.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Fail([string] $message) {
    Write-Error "postprovision: $message"
    exit 1
}

$template = Join-Path $PSScriptRoot '..' '..' 'manifest.template.json'
foreach ($name in 'AZURE_ENV_NAME', 'SLACK_REQUEST_URL', 'AZURE_KEY_VAULT_NAME', 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME') {
    if (-not [Environment]::GetEnvironmentVariable($name)) { Fail "$name is not set; run it through azd after azd provision" }
}

# -- 1. the Slack manifest ---------------------------------------------------------------------

$url = $env:SLACK_REQUEST_URL
if ($url -notmatch '^https://[A-Za-z0-9./:_-]+/api/slack/events$') {
    Fail "SLACK_REQUEST_URL is not an https URL ending in /api/slack/events: $url"
}
$outDir = Join-Path '.azure' $env:AZURE_ENV_NAME
New-Item -ItemType Directory -Force -Path $outDir | Out-Null
$manifest = Join-Path $outDir 'slack-manifest.json'
$text = (Get-Content -Raw -Encoding utf8 $template).Replace('${SLACK_REQUEST_URL}', $url)
if ($text.Contains('${')) { Fail 'the manifest template holds a placeholder this hook does not fill' }
Set-Content -Path $manifest -Value $text -Encoding utf8 -NoNewline
Write-Host "Slack app manifest for this deployment: $manifest"
Write-Host '  Install it at https://api.slack.com/apps (Create New App > From a manifest, or the'
Write-Host "  existing app's App Manifest page)."

# -- 2. the Slack secrets in Key Vault -----------------------------------------------------------

$vault = $env:AZURE_KEY_VAULT_NAME
$tries = if ($env:ACRBOT_HOOK_TRIES) { [int] $env:ACRBOT_HOOK_TRIES } else { 6 }
$wait = if ($env:ACRBOT_HOOK_WAIT) { [int] $env:ACRBOT_HOOK_WAIT } else { 20 }

function Set-Secret([string] $name, [string] $value) {
    # Through a file only this user can read, removed at once: never on a command line.
    $file = New-TemporaryFile
    try {
        [IO.File]::WriteAllText($file.FullName, $value)
        for ($i = 1; ; $i++) {
            az keyvault secret set --vault-name $vault --name $name --file $file.FullName --encoding utf-8 --output none
            if ($LASTEXITCODE -eq 0) { return }
            if ($i -ge $tries) { Fail "could not set $name in $vault (your role on the vault may still be replicating: run azd provision again)" }
            Write-Host "  ${name}: not yet allowed, trying again in $wait s"
            Start-Sleep -Seconds $wait
        }
    } finally {
        Remove-Item -Force $file.FullName
    }
}

$changed = $false
function Set-SlackSecret([string] $name, [string] $variable, [string] $label, [string] $prefix) {
    $value = [Environment]::GetEnvironmentVariable($variable)
    if (-not $value) {
        az keyvault secret show --vault-name $vault --name $name --query id --output none 2>$null
        if ($LASTEXITCODE -eq 0) {
            Write-Host "${name}: kept (already in $vault)"
            return
        }
        if (-not [Console]::IsInputRedirected) {
            $secure = Read-Host -AsSecureString -Prompt $label
            $value = [Net.NetworkCredential]::new('', $secure).Password
        }
    }
    if (-not $value) {
        Write-Warning "${name}: not set (no $variable in the azd environment and no terminal to ask); set it and run azd provision again"
        return
    }
    if (-not $value.StartsWith($prefix)) { Fail "$variable does not look like a $label (it should start with '$prefix')" }
    Set-Secret $name $value
    Write-Host "${name}: set in $vault"
    $script:changed = $true
}

Set-SlackSecret 'slack-bot-token' 'ACRBOT_SLACK_BOT_TOKEN' 'Slack Bot User OAuth Token (xoxb-...)' 'xoxb-'
Set-SlackSecret 'slack-signing-secret' 'ACRBOT_SLACK_SIGNING_SECRET' 'Slack Signing Secret (Basic Information)' ''

# -- 3. make the app resolve the references again -----------------------------------------------

if ($changed) {
    $now = (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')
    az functionapp config appsettings set --resource-group $env:AZURE_RESOURCE_GROUP --name $env:AZURE_FUNCTION_APP_NAME --settings "ACRBOT_SECRETS_SET_AT=$now" --output none
    if ($LASTEXITCODE -ne 0) { Fail 'could not change the app settings' }
    Write-Host 'App settings changed: the app resolves its Key Vault references again.'
}
