"""Compiled regular expressions for `services.diagnosis.parsing`.

Speed and safety on a 1 MB paste come from three habits:
- Patterns run on a lower-cased copy of the text and start with a literal, so the engine jumps
  from one occurrence of that literal to the next instead of trying every position (a big
  case-insensitive alternation costs about a thousand times more per megabyte).
- Every repetition is bounded (`\\s{0,3}`, `{0,80}`), and a repeated class never overlaps what
  follows it, so no match attempt can backtrack more than a constant.
- Keyword rules are small separate patterns, not one alternation; `KEYWORD_BOUNDARY` rules also
  need a non-word character before them, checked in code (a leading look-behind would cost the
  literal scan).

`bench/parse.py` measures this on realistic and adversarial pastes.
"""

from __future__ import annotations

import re

#: Lines shorter than this are never treated as hard-wrapped.
WRAP_MIN_COLUMNS = 70

# --- normalisation (run on the text as pasted, before lower-casing) -------------------------------

ANSI = re.compile(r"\x1b\[[0-9;?]{0,32}[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b")
#: Slack wraps URLs it recognises: `<https://x|label>` or `<https://x>`.
SLACK_LINK = re.compile(
    r"<((?:https?|ftp|mailto|docker|oci):[^<>|\s]{1,2048})(?:\|([^<>\n]{0,2048}))?>",
    re.IGNORECASE,
)
#: An HTML character reference with its semicolon (Slack writes `&amp;`, `&lt;`, `&gt;`).
ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
#: JSON string escapes, possibly escaped again (a JSON body inside a JSON string).
JSON_UNICODE = re.compile(r"\\{1,8}u([0-9A-Fa-f]{4})")
JSON_QUOTE = re.compile(r"\\{1,8}([\"'/])")
JSON_NEWLINE = re.compile(r"\\{1,8}[rn]")
JSON_TAB = re.compile(r"\\{1,8}t(?![a-z])")
#: What a CI runner or a Slack quote puts before each log line. The look-ahead lets lines that
#: start with anything else go by without a (costly) empty substitution.
LINE_PREFIX = re.compile(
    r"^(?=[ \t>\d#])[ \t]{0,20}(?:>[ \t]?)?"
    r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?[ \t]{1,4})?"
    r"(?:##\[[a-z]{1,12}\][ \t]?)?",
    re.MULTILINE | re.IGNORECASE,
)
#: A line break that is probably a hard wrap inside a token: the line is terminal-wide (so not a
#: short line that simply ended) and the break falls between two non-space characters. Matching
#: the `\n` first keeps the scan literal-driven; the look-behind runs only at line ends.
GLUE = re.compile(r"\n(?<=[^\n]{" + str(WRAP_MIN_COLUMNS - 1) + r"}\S\n)[ \t]{0,200}(?=\S)")

#: Signs of a CI runner's log (checked on the lower-cased paste before prefixes are stripped).
CI_TIMESTAMP = re.compile(r"\n[ \t]{0,4}\d{4}-\d\d-\d\dt\d\d:\d\d:\d\d\.\d{1,9}z[ \t]")
CI_MARKER = re.compile(
    r"##\[(?:error|warning|group|endgroup|section|command|debug)\]|##vso\[|\n::(?:error|group)"
    r"|\nrun [\w-]{1,40}/[\w.-]{1,60}@v\d"
)
CI_LITERALS = (
    "/home/runner/work/", "/home/vsts/work/", ":\\a\\", "running with gitlab-runner",
    "github_actions", "github_workspace", "github_run_id", "azure pipelines", "github actions",
)  # fmt: skip

# --- the ACR denial sentence (lower-cased text) ---------------------------------------------------

#: `client with IP '1.2.3.4' is not allowed access`, with every gap optional so it also matches the
#: glued view where a line break inside a word was removed. `mid` refuses to run into a second
#: sentence, so two denials in one paste stay two matches.
DENIAL = re.compile(
    r"client\s{0,3}(?:with\s{0,3})?ip(?:\s{0,3}address)?"
    r"(?P<mid>(?:(?!client)[^\n]){0,80}?)"
    r"\s{0,3}is\s{0,3}not\s{0,3}allowed\s{0,3}access"
)
IP_TRIM = " \t'\"`*_~=()[]{}<>.,;!"
IPV4_WITH_PORT = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}")

# --- registries and images (lower-cased text) -----------------------------------------------------

#: What may follow a registry host: an API path (`/v2/<repo>/manifests/<ref>`) or an image path.
_REF_SUFFIX = (
    r"(?P<port>:\d{1,5})?"
    r"(?:(?P<api>/v2/(?P<arepo>[a-z0-9._/-]{1,256}?)/(?P<akind>manifests|blobs|tags)/"
    r"(?P<aref>sha256:[0-9a-f]{64}|\w[\w.-]{0,127})?)"
    r"|(?P<path>/(?P<repo>[a-z0-9][a-z0-9._/-]{0,255})"
    r"(?::(?P<tag>\w[\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?))?"
)
#: The end of an ACR login server or data endpoint; the name before it is read backwards.
ACR_SUFFIX = re.compile(r"\.azurecr\.(?P<tld>io|cn|us)(?![\w-])" + _REF_SUFFIX)
#: Matched on the *reversed* text just before `.azurecr.`: `[<name>.<region>.data]` backwards.
#: The closing look-ahead is a look-behind in reading order: nothing host-like before the name.
ACR_NAME_REVERSED = re.compile(
    r"(?:atad\.(?P<region>[a-z0-9-]{1,40})\.)?(?P<name>[a-z0-9-]{1,63})(?![\w.$%-])"
)
#: Characters that continue a host name to the left (so `.azurecr.` is not the end of a name).
HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_$%")


def custom_domain_pattern(domains: tuple[str, ...]) -> re.Pattern[str]:
    """Configured custom domains with the same suffix groups as `ACR_SUFFIX` (lower-cased text)."""
    alternatives = "|".join(re.escape(d) for d in sorted(domains, key=len, reverse=True))
    return re.compile(r"(?P<custom>" + alternatives + r")(?![\w-]|\.[\w-])" + _REF_SUFFIX)


#: A registry API URL on any host, for gateways nobody configured.
API_URL = re.compile(
    r"https?://(?P<host>[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,8})(?::\d{1,5})?"
    r"/v2/(?P<arepo>[a-z0-9._/-]{1,256}?)/(?P<akind>manifests|blobs|tags)/"
    r"(?P<aref>sha256:[0-9a-f]{64}|\w[\w.-]{0,127})?"
)
ARM_ID = re.compile(
    r"/registries/"
    r"(?P<name>[a-z0-9-]{1,50}(?![\w-])|<[^<>\s]{0,40}>|\{[^{}\n]{0,40}\}|\[[^\[\]\n]{0,40}\])"
)
#: `az acr <sub> ... -r <name>`; `-n` names the registry only for some subcommands.
AZ_ACR_ARG = re.compile(
    r"az\s{1,3}acr\s{1,3}(?P<sub>[a-z-]{2,20})[^\n|;&]{0,300}?\s"
    r"(?P<flag>-r|--registry|-n|--name)(?:\s{1,3}|=)(?P<name>[a-z0-9]{5,50})(?![\w$.-])"
)
AZ_NAME_SUBCOMMANDS = frozenset(
    {"login", "show", "update", "import", "repository", "network-rule", "check-health",
     "credential", "show-usage", "show-endpoints"}
)  # fmt: skip
SCOPE = re.compile(
    r"scope=repository(?:%3a|:)(?P<repo>[a-z0-9._/%-]{1,256}?)(?:%3a|:)"
    r"(?:pull|push|delete|metadata_read|\*|%2a)"
)
CORRELATION = re.compile(
    r"correlation[\s_-]{0,2}(?:request[\s_-]{0,2})?id[\"']?\s{0,3}[:=]\s{0,3}[\"']?"
    r"(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?![0-9a-f])"
)

# --- kinds without an IP (lower-cased text) -------------------------------------------------------

_403 = (
    r"403\s{0,3}\(?forbidden\b",
    r"forbidden\s{0,3}\(403\)",
    r"status(?:\s{0,3}code)?\s{0,3}[:=]?\s{0,3}'?403\b",
    r"response\s{0,3}code:?\s{0,3}403\b",
    r"http(?:/\d(?:\.\d)?)?\s{1,3}403\b",
    r"invalid\s{1,3}status\s{1,3}'forbidden'",
)
#: (rule, pattern): `generic` 403s are weighed against their surroundings by the parser.
FIREWALL_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("anon_token", re.compile(
        r"failed\s{0,3}to\s{0,3}fetch\s{0,3}(?:anonymous|oauth)\s{0,3}token"
        r"[:\s]{0,6}unexpected\s{0,3}status(?:\s{0,3}code)?"
        r"(?:\s{0,3}from\s{0,3}[a-z]{3,7}\s{0,3}request\s{0,3}to\s{0,3}\S{1,600})?[:\s]{0,6}403")),
    ("inaccessible", re.compile(r"inaccessibleimage")),
    ("refresh", re.compile(r"connectivity_refresh_token_error")),
    ("app_service", re.compile(r"\{\s{0,5}\"message\"\s{0,5}:\s{0,5}\"denied\"\s{0,5}\}")),
    ("link", re.compile(r"aka\.ms/acr/firewall")),
    *(("generic", re.compile(p)) for p in _403),
)  # fmt: skip
#: A 403 near these came from storage, not from the registry's firewall.
STORAGE_HOST = re.compile(r"\.blob\.core\.(?:windows\.net|chinacloudapi\.cn)|\.data\.azurecr\.")
NOT_FIREWALL_RULES: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        r"unauthorized\b",
        r"status(?:\s{0,3}code)?\s{0,3}[:=]?\s{0,3}'?401\b",
        r"response\s{0,3}code:?\s{0,3}401\b",
        r"http(?:/\d(?:\.\d)?)?\s{1,3}401\b",
        r"authentication\s{0,3}required",
        r"insufficient_scope",
        r"retrieving\s{0,3}permissions\s{0,3}failed",
        r"requested\s{0,3}access\s{0,3}to\s{0,3}the\s{0,3}resource\s{0,3}is\s{0,3}denied",
        r"manifest\s{0,3}unknown",
        r"manifest_unknown",
        r"name_unknown",
        r"not\s{1,3}found\b",
        r"this\s{0,3}request\s{0,3}is\s{0,3}not\s{0,3}authorized",
        r"authorization(?:failure|permissionmismatch)\b",
    )
)
REFRESH_403 = re.compile(r"\b403\b")
REFRESH_401 = re.compile(r"\b401\b")

# --- clients (lower-cased text), most specific first ----------------------------------------------

_CLIENT_SOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("container_apps", (
        r"webhookinvalidparametervalue", r"containerapp", r"microsoft\.app\b",
        r"template\.containers")),
    ("container_instances", (
        r"inaccessibleimage", r"container\s{1,3}group\b", r"microsoft\.containerinstance",
        r"az\s{1,3}container\s{1,3}create")),
    ("app_service", (
        r"dockerapiexception", r"kudu\b", r"microsoft\.web\b", r"az\s{1,3}webapp\b",
        r"\{\s{0,5}\"message\"\s{0,5}:\s{0,5}\"denied\"\s{0,5}\}", r"pulling\s{1,3}image:",
        r"container\s{1,3}\S{1,80}\s{1,3}for\s{1,3}site\s", r"_docker\.log\b", r"websites?_\w")),
    ("acr_import", (r"az\s{1,3}acr\s{1,3}import\b",)),
    ("acr_tasks", (
        r"az\s{1,3}acr\s{1,3}(?:build|run|task)\b", r"run\s{1,3}id:\s{0,3}\w",
        r"waiting\s{1,3}for\s{1,3}an\s{1,3}agent", r"queued\s{1,3}a\s{1,3}(?:build|run)\b")),
    ("kubelet", (
        r"kubelet\b", r"failed\s{1,3}to\s{1,3}pull\s{1,3}image\b", r"errimagepull\b",
        r"imagepullbackoff\b", r"back-off\s{1,3}pulling\s{1,3}image",
        r"warning\s{1,10}failed\s", r"normal\s{1,10}pulling\s")),
    ("helm", (
        r"helm\s{1,3}(?:pull|install|upgrade|push|template|registry|dependency|dep|show"
        r"|package)\b",)),
    ("oras", (
        r"oras\s{1,3}(?:pull|push|copy|cp|login|manifest|repo|attach|discover|tag|resolve"
        r"|blob)\b",)),
    ("skopeo", (r"skopeo\b",)),
    ("podman", (
        r"podman\b", r"initializing\s{1,3}source\s{1,3}docker://",
        r"trying\s{1,3}to\s{1,3}pull\b")),
    ("buildkit", (r"failed\s{1,3}to\s{1,3}solve\b", r"buildkit", r"buildx\b")),
    ("docker", (
        r"error\s{1,3}response\s{1,3}from\s{1,3}daemon",
        r"docker(?:-compose)?\s{1,3}(?:pull|push|run|login|create|compose)\b")),
    ("az_cli", (
        r"az\s{1,3}acr\b", r"unable\s{1,3}to\s{1,3}get\s{1,3}aad\s{1,3}authorization",
        r"connectivity_[a-z_]{1,40}_error\b", r"access\s{1,3}to\s{1,3}registry\s{1,3}'")),
    ("sdk", (
        r"azure\.core\.exceptions", r"httpresponseerror\b", r"clientauthenticationerror\b",
        r"containerregistryclient\b", r"azure\.containerregistry", r"requestfailedexception\b",
        r"azure\.containers\.containerregistry")),
    ("containerd", (
        r"failed\s{1,3}to\s{1,3}pull\s{1,3}and\s{1,3}unpack\s{1,3}image",
        r"rpc\s{1,3}error:\s{0,3}code\s{0,3}=\s{0,3}\w{1,20}\s{0,3}desc\s{0,3}=",
        r"ctr(?::|\s{1,3}(?:images?|i|content|run|pull)\b)", r"containerd\b", r"crictl\b",
        r"httpreadseeker\b")),
    # helm's own error wording, last: buildkit and oras print similar lines with more context.
    ("helm", (
        r"error:\s{0,3}(?:(?:installation|upgrade)\s{1,3}failed:\s{0,3})?failed\s{1,3}to\s{1,3}"
        r"(?:authorize|do\s{1,3}request)\b",)),
)  # fmt: skip
#: (client, pattern) in order of preference when several clients are named.
CLIENT_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (client, re.compile(source)) for client, sources in _CLIENT_SOURCES for source in sources
)
