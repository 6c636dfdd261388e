#!/bin/sh
# azd postprovision hook (posix; postprovision.ps1 is the same for Windows). azd runs it in the
# project folder after every `azd provision` / `azd up`, with the environment's values and the
# template's outputs in the environment.
#
# 1. Renders the Slack app manifest with this deployment's request URL:
#    manifest.template.json -> .azure/<env>/slack-manifest.json (install that one in Slack).
# 2. Puts the Slack bot token and signing secret in Key Vault: from the azd environment
#    (ACRBOT_SLACK_BOT_TOKEN, ACRBOT_SLACK_SIGNING_SECRET) if set there, else asked for when the
#    vault does not hold them yet. A secret never appears on a command line.
# 3. When a secret was set, changes an app setting (ACRBOT_SECRETS_SET_AT): App Service resolves
#    Key Vault references again on a configuration change; a restart alone does not.
set -eu

hook=postprovision
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
template="$here/../../manifest.template.json"
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$here/common.sh"

: "${AZURE_ENV_NAME:?postprovision: run it through azd (AZURE_ENV_NAME is not set)}"
require SLACK_REQUEST_URL AZURE_KEY_VAULT_NAME AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME

# -- 1. the Slack manifest ---------------------------------------------------------------------

case "$SLACK_REQUEST_URL" in
  https://*/api/slack/events) ;;
  *) fail "SLACK_REQUEST_URL is not an https URL ending in /api/slack/events: $SLACK_REQUEST_URL" ;;
esac
case "$SLACK_REQUEST_URL" in
  *[!A-Za-z0-9./:_-]*) fail "SLACK_REQUEST_URL holds a character a URL of the app cannot: $SLACK_REQUEST_URL" ;;
esac
out_dir=".azure/$AZURE_ENV_NAME"
mkdir -p "$out_dir"
manifest="$out_dir/slack-manifest.json"
# shellcheck disable=SC2016 # the placeholder is literal text in the template
sed 's|${SLACK_REQUEST_URL}|'"$SLACK_REQUEST_URL"'|g' "$template" >"$manifest.tmp"
# shellcheck disable=SC2016 # a placeholder left over is literal text
if grep -q '\${' "$manifest.tmp"; then
  rm -f "$manifest.tmp"
  fail "the manifest template holds a placeholder this hook does not fill"
fi
mv "$manifest.tmp" "$manifest"
echo "Slack app manifest for this deployment: $manifest"
echo "  Install it at https://api.slack.com/apps (Create New App > From a manifest, or the"
echo "  existing app's App Manifest page)."

# -- 2. the Slack secrets in Key Vault -----------------------------------------------------------

vault="$AZURE_KEY_VAULT_NAME"

# ask LABEL: read a value from the terminal without echoing it; empty when there is none.
ask() {
  if [ ! -t 0 ]; then
    return 0
  fi
  printf '%s: ' "$1" >/dev/tty
  stty -echo </dev/tty
  IFS= read -r answer </dev/tty || answer=""
  stty echo </dev/tty
  printf '\n' >/dev/tty
  printf '%s' "$answer"
}

# set_secret NAME VALUE: the value on standard input, never on a command line.
set_secret() {
  printf '%s' "$2" | az keyvault secret set --vault-name "$vault" --name "$1" \
    --file /dev/stdin --encoding utf-8 --output none
}

# put_secret NAME VALUE: retried while a new role assignment reaches Key Vault (up to ~2 min).
put_secret() {
  retry 20 "$1: not yet allowed" set_secret "$1" "$2" ||
    fail "could not set $1 in $vault (your role on the vault may still be replicating: run azd provision again)"
}

changed=0
# secret NAME VARIABLE LABEL PREFIX: sets the secret when a value is given or asked for.
secret() {
  value=$(printenv "$2" || true)
  if [ -z "$value" ]; then
    if az keyvault secret show --vault-name "$vault" --name "$1" --query id --output none 2>/dev/null; then
      echo "$1: kept (already in $vault)"
      return 0
    fi
    value=$(ask "$3")
  fi
  if [ -z "$value" ]; then
    echo "$1: not set (no $2 in the azd environment and no terminal to ask); set it and run azd provision again" >&2
    return 0
  fi
  case "$value" in
    "$4"*) ;;
    *) fail "$2 does not look like a $3 (it should start with '$4')" ;;
  esac
  put_secret "$1" "$value"
  echo "$1: set in $vault"
  changed=1
}

secret slack-bot-token ACRBOT_SLACK_BOT_TOKEN "Slack Bot User OAuth Token (xoxb-...)" "xoxb-"
secret slack-signing-secret ACRBOT_SLACK_SIGNING_SECRET "Slack Signing Secret (Basic Information)" ""

# -- 3. make the app resolve the references again -----------------------------------------------

if [ "$changed" = 1 ]; then
  az functionapp config appsettings set --resource-group "$AZURE_RESOURCE_GROUP" \
    --name "$AZURE_FUNCTION_APP_NAME" \
    --settings "ACRBOT_SECRETS_SET_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)" --output none
  echo "App settings changed: the app resolves its Key Vault references again."
fi
