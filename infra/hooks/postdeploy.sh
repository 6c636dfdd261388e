#!/bin/sh
# azd postdeploy hook (posix; postdeploy.ps1 is the same for Windows). azd runs it in the project
# folder after every `azd deploy` / `azd up`, with the environment's values and the template's
# outputs in the environment.
#
# Runs the service-tag refresh now (the daily timer would first run at its schedule, and until
# then the diagnosis cannot recognise Azure-owned addresses): it asks the Functions host to run
# the `refresh_service_tags` timer function (the admin API, with the host's master key), retrying
# while the freshly deployed app starts. Then it says how to run the app's own checks.
set -eu

hook=postdeploy
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$here/common.sh"

: "${AZURE_ENV_NAME:?postdeploy: run it through azd (AZURE_ENV_NAME is not set)}"
require AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME AZURE_FUNCTION_APP_URL

key=$(az functionapp keys list --resource-group "$AZURE_RESOURCE_GROUP" \
  --name "$AZURE_FUNCTION_APP_NAME" --query masterKey --output tsv) ||
  fail "could not read the app's host keys (az functionapp keys list)"
[ -n "$key" ] || fail "the app has no master key yet; run azd deploy again"

# start_refresh: the key goes to curl on its standard input (-H @-), never on a command line.
start_refresh() {
  printf 'x-functions-key: %s\n' "$key" | curl --silent --show-error --fail \
    --max-time 30 --request POST --header @- --header "Content-Type: application/json" \
    --data '{"input": ""}' "$AZURE_FUNCTION_APP_URL/admin/functions/refresh_service_tags" \
    --output /dev/null
}

if retry 10 "the app is starting" start_refresh; then
  echo "Service-tag refresh started in the app (it takes a minute; then the diagnosis knows Azure's addresses)."
else
  echo "postdeploy: the service-tag refresh was not started; the daily timer will run it, or: python -m bot refresh-service-tags" >&2
fi

cat <<EOF
Next: install .azure/$AZURE_ENV_NAME/slack-manifest.json in Slack, then check everything:
  export ACRBOT_FUNCTION_KEY=\$(az functionapp keys list -g $AZURE_RESOURCE_GROUP -n $AZURE_FUNCTION_APP_NAME --query functionKeys.default -o tsv)
  .venv/bin/python -m bot doctor --app --env-file .azure/$AZURE_ENV_NAME/.env
EOF
