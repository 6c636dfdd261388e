"""Compiled regular expressions for `services.diagnosis.parsing`.

Speed and safety on a 1 MB paste come from these habits:
- Patterns run on a lower-cased copy of the text and start with a literal of several characters,
  so the engine jumps from one occurrence of it to the next instead of trying every position (a
  big case-insensitive alternation costs about a thousand times more per megabyte, and a
  one-character literal costs a match attempt at every occurrence of that character).
- Every repetition is bounded (`\\s{0,3}`, `{0,80}`); whitespace gaps in the rules are made
  possessive (`tight`), and a repeated class never overlaps what follows it, so no match attempt
  can backtrack more than a constant.
- Keyword rules are small separate patterns, not one alternation, and each has a gate word: the
  parser runs a rule only when its gate occurs in the paste. Where a rule needs more than its own
  words (a 403 with storage beside it, `not found` after `docker:`), the parser looks at a bounded
  window around each match in code instead of widening the pattern.
- A substitution whose replacement refers to a group (`\\1`) or calls a function costs Python
  work per match; normalisation uses plain `str.replace` or literal replacements where it can and
  caps the rest.

`bench/parse.py` measures all of this on realistic pastes and on adversarial ones generated from
the patterns below (each pattern's literal prefix repeated, its sample match and near miss
repeated, each normalisation trigger repeated); `tests/services/diagnosis/test_parsing_growth.py`
checks on the same shapes that time grows linearly with size.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from services.domain.failure import FirewallHint, NotFirewallCause
from services.domain.resources import ResourceKind

#: Lines shorter than this are never treated as hard-wrapped.
WRAP_MIN_COLUMNS = 70

# --- normalisation (run on the text as pasted, before lower-casing) ------------------------------

#: Colour and cursor sequences (`ESC [ 31 m`); a lone ESC left after them is dropped by replace.
ANSI = re.compile(r"\x1b\[[0-9;?]{0,32}[A-Za-z]")
ANSI_CHARSET = re.compile(r"\x1b[()][A-Za-z0-9]")
#: Slack wraps URLs it recognises: `<https://x|label>` or `<https://x>`. Each scheme has its own
#: pattern so that the scan looks for `<http`, not for every `<`.
SLACK_LINKS = tuple(
    re.compile(r"<(" + scheme + r"[^<>|\s]{1,2048}+)(?:\|([^<>\n]{0,2048}+))?>")
    for scheme in ("https?://", "ftp://", "mailto:", "docker://", "oci://")
)
#: Entities Slack and HTML write most, decoded with `str.replace`; `&amp;` goes last so that
#: `&amp;lt;` becomes `&lt;` and not `<` (one level of escaping is undone, never two).
COMMON_ENTITIES = (
    ("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"), ("&#x27;", "'"),
    ("&apos;", "'"), ("&#34;", '"'), ("&nbsp;", " "), ("&#x2F;", "/"), ("&#47;", "/"),
    ("&#x3D;", "="), ("&#61;", "="),
)  # fmt: skip
#: Any other character reference with its semicolon; run only when few `&` are left, because
#: each `&` costs a match attempt.
ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
JSON_UNICODE = re.compile(r"\\u([0-9A-Fa-f]{4})")
#: The `\uXXXX` escapes error bodies use most, decoded with `str.replace`.
COMMON_UNICODE_ESCAPES = tuple(
    (f"\\u{code:04{case}}", chr(code))
    for code in (0x27, 0x22, 0x3C, 0x3E, 0x26, 0x2F, 0x3D, 0xA0)
    for case in ("x", "X")
)
#: JSON escapes, after runs of backslashes were collapsed (a JSON body inside a JSON string is
#: escaped twice; any depth is read as one escape).
JSON_SIMPLE_ESCAPES = (
    ('\\"', '"'), ("\\'", "'"), ("\\/", "/"), ("\\n", "\n"), ("\\r", "\n"), ("\\t", " "),
)  # fmt: skip
#: What a CI runner puts before each log line (matched after a line break).
CI_LINE_TIMESTAMP = re.compile(
    r"\n\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:[Zz]|[+-]\d\d:?\d\d)?[ \t]{1,4}"
)
#: Azure Pipelines / GitHub Actions line markers, stripped at the start of a line.
CI_LINE_MARKER = re.compile(
    r"\n##\[(?:error|warning|group|endgroup|section|command|debug|info)\] ?"
)
#: Quote marks people put before every line of a quoted log (Slack `>`, shell or Markdown `#`).
QUOTE_MARKS = ("\n>", "\n# ", "\n## ")
#: A line break that is probably a hard wrap inside a token: the line is terminal-wide (so not a
#: short line that simply ended) and the break falls between two non-space characters. Matching
#: the `\n` first keeps the scan literal-driven; the look-behind runs only at line ends.
GLUE = re.compile(r"\n(?<=[^\n]{" + str(WRAP_MIN_COLUMNS - 1) + r"}\S\n)[ \t]{0,200}(?=\S)")
#: Above this size a paste is glued only where it is evidently hard-wrapped (`glue_at_width`): a
#: natural log has thousands of long lines, and gluing them all would double every scan.
GLUE_ANY_LINE_BELOW = 128_000
#: How much of a large paste is sampled for its wrap width.
WRAP_SAMPLE = 65_536


@lru_cache(maxsize=8)
def glue_at_width(width: int) -> re.Pattern[str]:
    """`GLUE` for lines of exactly `width` characters (run on the text with a `\n` before it)."""
    return re.compile(r"\n(?<=\n[^\n]{" + str(width - 1) + r"}\S\n)[ \t]{0,200}(?=\S)")


#: Signs of a CI runner's log, looked for at the start and the end of the lower-cased paste
#: (a runner marks every line, so a window shows it).
#: GitHub Actions and Azure Pipelines stamp lines with seven-digit fractions (App Service's log,
#: which is not a CI log, with three).
CI_TIMESTAMP = re.compile(r"\n[ \t]{0,4}\d{4}-\d\d-\d\dt\d\d:\d\d:\d\d\.\d{7}z[ \t]")
CI_MARKER = re.compile(
    r"##\[(?:error|warning|group|endgroup|section|command|debug)\]|##vso\[|\n::(?:error|group)"
    r"|\nrun [\w-]{1,40}/[\w.-]{1,60}@v\d"
)
CI_LITERALS = (
    "/home/runner/work/", "/home/vsts/work/", ":\\a\\", "running with gitlab-runner",
    "github_actions", "github_workspace", "github_run_id", "azure pipelines", "github actions",
    "process completed with exit code", "job failed: exit code",
)  # fmt: skip

# --- the ACR denial sentence (lower-cased text) --------------------------------------------------

#: `client with IP '1.2.3.4' is not allowed access`, with every gap optional so it also matches the
#: glued view where a line break inside a word was removed. A sentence cut after `is not allowed`
#: still counts; Azure SQL's `is not allowed to access the server` does not.
#:
#: `mid` (the address, its quotes, a redaction) is read in runs, not character by character: a
#: run of up to 8 characters that are neither `i` nor `l`, or one `i` that does not start `is`,
#: or one `l` that is not the `l` of `client`; ten at most, so up to 80 characters, and never
#: given back. It stops where `is` starts (the rest of the sentence must follow right there) or
#: where another `client` starts (so two denials in one paste stay two matches). A per-character
#: look-ahead (`(?:(?!client).){0,80}?`) costs a look-ahead and a try of the rest of the sentence
#: at each of 80 characters after every `client`: a near miss of the sentence repeated over 1 MB
#: took 20 ms in this one pattern; the runs take 2.
DENIAL = re.compile(
    r"client\s{0,3}+(?:with\s{0,3}+)?ip(?:\s{0,3}+address)?"
    r"(?P<mid>(?:[^\nil]{1,8}+|i(?!s)|l(?!ient)|l(?<!cl)){0,10}+)"
    r"is\s{0,3}+not\s{0,3}+allowed(?:\s{0,3}+access|(?!\s{0,3}to\b))"
)
#: The start of ACR's sentence, for a paste cut before `is not allowed` (the parser checks that
#: `denied` comes just before it).
DENIAL_HEAD = re.compile(r"client\s{0,3}with\b(?P<ip>\s{0,3}ip\b(?:\s{0,3}address)?)?")
IP_TRIM = " \t'\"`*_~=()[]{}<>.,;!"
IPV4_WITH_PORT = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}")

# --- registries and images (lower-cased text) ----------------------------------------------------

#: What may follow a registry host: an API path (`/v2/<repo>/manifests/<ref>`) or an image path.
#: Names are read with their grammar's characters only; `services.domain.failure` checks the rest.
_REF_SUFFIX = (
    r"(?P<port>:\d{1,5})?"
    r"(?:(?P<api>/v2/(?P<arepo>[a-z0-9._/-]{1,256}?)/(?P<akind>manifests|blobs|tags)/"
    r"(?P<aref>sha256:[0-9a-f]{64}|[a-z0-9_][a-z0-9_.-]{0,127})?)"
    r"|(?P<path>/(?P<repo>[a-z0-9][a-z0-9._/-]{0,255})"
    r"(?::(?P<tag>[a-z0-9_][a-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?))?"
)
#: The end of an ACR login server or data endpoint; the name before it is read backwards.
ACR_SUFFIX = re.compile(r"\.azurecr\.(?P<tld>io|cn|us)(?![\w-])" + _REF_SUFFIX)
#: Matched on the *reversed* text just before `.azurecr.`: `[<name>.<region>.data][.privatelink]`
#: backwards. The closing look-ahead is a look-behind in reading order: nothing host-like before.
ACR_NAME_REVERSED = re.compile(
    r"(?P<pl>kniletavirp\.)?(?:atad\.(?P<region>[a-z0-9-]{1,40})\.)?"
    r"(?P<name>[a-z0-9-]{1,63})(?![\w.$%-])"
)
#: Characters that continue a host name to the left (so `.azurecr.` is not the end of a name).
HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_$%")
#: The run of those characters before `.azurecr.`, read on the reversed text (bounded: no name
#: with its region and `privatelink` is longer).
HOST_RUN_REVERSED = re.compile(r"[a-z0-9.\-_$%]{0,130}")


def custom_domain_pattern(domains: tuple[str, ...]) -> re.Pattern[str]:
    """Configured custom domains with the same suffix groups as `ACR_SUFFIX` (lower-cased text)."""
    alternatives = "|".join(re.escape(d) for d in sorted(domains, key=len, reverse=True))
    return re.compile(r"(?P<custom>" + alternatives + r")(?![\w-]|\.[\w-])" + _REF_SUFFIX)


#: A registry API URL on any host, for gateways nobody configured.
API_URL = re.compile(
    r"https?://(?P<host>[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,8})(?::\d{1,5})?"
    r"/v2/(?P<arepo>[a-z0-9._/-]{1,256}?)/(?P<akind>manifests|blobs|tags)/"
    r"(?P<aref>sha256:[0-9a-f]{64}|[a-z0-9_][a-z0-9_.-]{0,127})?"
)
ARM_ID = re.compile(
    r"/registries/"
    r"(?P<name>[a-z0-9-]{1,50}(?![\w-])|<[^<>\s]{0,40}>|\{[^{}\n]{0,40}\}|\[[^\[\]\n]{0,40}\])"
)
#: `az acr <subcommand>`; the flag naming the registry is found separately (`AZ_ACR_FLAG`) and
#: paired with the nearest head before it on the same command line, so no pattern has to run a
#: lazy gap across 300 characters from every `az acr` in the paste.
AZ_ACR_HEAD = re.compile(r"az\s{1,3}acr\s{1,3}(?P<sub>[a-z][a-z-]{1,19}+)(?![a-z-])")
#: ` -n NAME` / ` --registry=NAME`: the leading space gives the scan a two-character literal.
AZ_ACR_FLAG = re.compile(
    r" -(?P<flag>r|-registry|n|-name)(?:\s{1,3}|=)(?P<name>[a-z0-9]{5,50})(?![\w$.-])"
)
#: What ends a command line for `AZ_ACR_FLAG` (`|`, `;`, `&`, a line break).
COMMAND_END = re.compile(r"[\n|;&]")
#: How far after `az acr <sub>` its `-n`/`-r` flag may be.
AZ_ACR_REACH = 300
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

# --- the command that failed (lower-cased text; arguments read from the original case) -----------

#: `… pull <args>`; the tool before `pull` is checked in code (`PULL_TOOL`), and the arguments
#: are read from the original-case text up to the end of the line.
PULL = re.compile(r"pull\s{1,3}(?=[^\s|;&])")
#: The tool right before `pull`, matched at the end of the text before it.
PULL_TOOL = re.compile(
    r"(?:^|[\s$>#:'\"(/\]])(?:sudo\s{1,3})?(?P<tool>docker|podman|nerdctl|buildah|crictl|oras|helm"
    r"|ctr(?:\s{1,3}-n\s{1,3}[a-z0-9.-]{1,40})?\s{1,3}(?:images|image|i)"
    r"|(?:docker|podman|nerdctl)\s{1,3}image)\s{1,3}$"
)
#: An image reference as typed (original case): `[host[:port]/]repo[:tag][@digest]`.
IMAGE_REF = re.compile(
    r"(?P<scheme>oci://|docker://)?"
    r"(?:(?P<host>[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}|localhost)(?P<port>:\d{1,5})?/)?"
    r"(?P<repo>[a-z0-9][a-z0-9._/-]{0,255}?)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)

# --- evidence without an IP (lower-cased text) ---------------------------------------------------

H = FirewallHint
N = NotFirewallCause


class Rule(NamedTuple):
    """A pattern, what a match means, and a word every match contains.

    The parser runs the pattern only when its `gate` occurs in the paste: one `in` costs less
    than a regex pass, and most pastes contain few of these words, so a paste pays for the rules
    it could match, not for all of them. A property test checks each gate against generated
    matches of its pattern.
    """

    label: FirewallHint | NotFirewallCause | None
    gate: str
    pattern: re.Pattern[str]
    #: The match counts only right after a colon (`…/v2/": EOF`): a bare word elsewhere is prose.
    after_colon: bool = False


def tight(source: str) -> str:
    """`source` with its whitespace gaps possessive: a gap never gives back what it took, so a
    match that fails at its end is not retried with the spaces shared out differently."""
    return source.replace(r"\s{0,3}", r"\s{0,3}+").replace(r"\s{1,3}", r"\s{1,3}+")


def _after_colon(label: FirewallHint | NotFirewallCause | None, word: str) -> Rule:
    """A bare word that counts only right after a colon (`…": Forbidden`, `…": EOF`)."""
    return Rule(label, word, re.compile(word + r"\b"), after_colon=True)


def _rules(
    *rules: tuple[FirewallHint | NotFirewallCause | None, str, str] | Rule,
) -> tuple[Rule, ...]:
    return tuple(
        rule if isinstance(rule, Rule) else Rule(rule[0], rule[1], re.compile(tight(rule[2])))
        for rule in rules
    )


#: Status codes, however the tool prints them; the code decides what the match means.
STATUS_RULES = _rules(
    (None, "status", r"status(?:\s{0,3}code)?\s{0,3}[:=]?\s{0,3}['\"]?(?P<code>[1-5]\d\d)\b"),
    (None, "response", r"response\s{0,3}(?:status\s{0,3})?code:?\s{0,3}(?P<code>[1-5]\d\d)\b"),
    (None, "http", r"http(?:/\d(?:\.\d)?)?\s{1,3}(?:status:?\s{0,3})?(?P<code>[1-5]\d\d)\b"),
    (None, "forbidden", r"(?P<code>403)\s{0,3}\(?forbidden\b"),
    (None, "forbidden", r"forbidden\s{0,3}\((?P<code>403)\)"),
    (None, "forbidden", r"invalid\s{1,3}status\s{1,3}'forbidden'"),
    _after_colon(None, "forbidden"),
)

#: Refusals that are most likely the firewall. Which hint names a paste that shows several is
#: `HINT_PRIORITY`; bare 403s come from `STATUS_RULES` and are weighed against their surroundings.
FIREWALL_RULES = _rules(
    (H.ANONYMOUS_TOKEN, "token",
     r"failed\s{0,3}to\s{0,3}fetch\s{0,3}(?:anonymous|oauth)\s{0,3}token"
     r"[:\s]{0,6}unexpected\s{0,3}status(?:\s{0,3}code)?"
     r"(?:\s{0,3}from\s{0,3}[a-z]{3,7}\s{0,3}request\s{0,3}to\s{0,3}\S{1,600})?[:\s]{0,6}403"),
    (H.INACCESSIBLE_IMAGE, "inaccessibleimage", r"inaccessibleimage"),
    (H.INACCESSIBLE_IMAGE, "credential",
     r"please\s{0,3}check\s{0,3}the\s{0,3}image\s{0,3}and\s{0,3}registry\s{0,3}credential"),
    (H.MANAGED_IDENTITY_PULL, "managed",
     r"unable\s{0,3}to\s{0,3}pull\s{0,3}image\s{0,3}using\s{0,3}managed\s{0,3}identity"),
    (H.REFRESH_TOKEN, "connectivity_", r"connectivity_refresh_token_error"),
    (H.CHALLENGE, "connectivity_", r"connectivity_challenge_error"),
    (H.CHALLENGE, "challenge", r"did\s{0,3}not\s{0,3}issue\s{0,3}a\s{0,3}challenge"),
    (H.FORBIDDEN, "connectivity_", r"connectivity_forbidden_error"),
    (H.FORBIDDEN, "looks",
     r"looks\s{0,3}like\s{0,3}you\s{0,3}don'?t\s{0,3}have\s{0,3}access\s{0,3}to\s{0,3}registry"),
    (H.REGISTRY_ACCESS_DENIED, "denied",
     r"access\s{1,3}to\s{1,3}(?:registry\s{1,3})?['\"]?[a-z0-9<>{}*-]{1,63}"
     r"(?:\.[a-z0-9<>{}*-]{1,63}){1,8}['\"]?\s{1,3}(?:was\s{1,3})?denied"),
    (H.APP_SERVICE_DENIED, "denied", r"\"message\"\s{0,5}:\s{0,5}\"denied\"\s{0,5}\}"),
    (H.FIREWALL_LINK, "aka.ms/acr/firewall", r"aka\.ms/acr/firewall"),
    # Weak: counts only when nothing else in the paste says what the registry answered.
    (H.IMAGE_PULL_FAILURE, "imagepullfailure", r"imagepullfailure"),
)  # fmt: skip
#: The most telling hint first.
HINT_PRIORITY: tuple[FirewallHint, ...] = (
    H.SENTENCE_CUT, H.MANAGED_IDENTITY_PULL, H.INACCESSIBLE_IMAGE, H.REFRESH_TOKEN, H.CHALLENGE,
    H.FORBIDDEN, H.REGISTRY_ACCESS_DENIED, H.ANONYMOUS_TOKEN, H.APP_SERVICE_DENIED,
    H.FIREWALL_LINK, H.STATUS_403, H.IMAGE_PULL_FAILURE,
)  # fmt: skip

#: Errors that are not the firewall, by cause. Which cause wins when several are present is
#: `CAUSE_PRIORITY`.
NOT_FIREWALL_RULES = _rules(
    (N.LOCAL_TOOL, "recognized",
     r"recognized\s{1,3}as\s{1,3}an\s{1,3}internal\s{1,3}or\s{1,3}external"),
    (N.LOCAL_TOOL, "daemon", r"connect\s{1,3}to\s{1,3}the\s{1,3}docker\s{1,3}daemon"),
    # kubectl and other Kubernetes clients talking to the cluster's API server, not a registry.
    (N.KUBERNETES_API, "unable",
     r"unable\s{1,3}to\s{1,3}connect\s{1,3}to\s{1,3}the\s{1,3}server"),
    (N.KUBERNETES_API, "specify",
     r"did\s{1,3}you\s{1,3}specify\s{1,3}the\s{1,3}right\s{1,3}host\s{1,3}or\s{1,3}port"),
    # Other registries' own wording: Google Artifact Registry's IAM refusal, ECR's expired login.
    (N.PERMISSION, "artifactregistry",
     r"permission\s{0,3}[\"']?artifactregistry\.[a-z.]{1,60}[\"']?\s{0,3}denied"),
    (N.AUTHENTICATION, "expired",
     r"authorization\s{1,3}token\s{1,3}has\s{1,3}expired"),
    (N.DNS, "such", r"no\s{1,3}such\s{1,3}host"),
    (N.DNS, "misbehaving", r"server\s{1,3}misbehaving"),
    (N.DNS, "resolution", r"temporary\s{1,3}failure\s{1,3}in\s{1,3}name\s{1,3}resolution"),
    (N.DNS, "known", r"name\s{1,3}or\s{1,3}service\s{1,3}not\s{1,3}known"),
    (N.DNS, "resolve", r"could\s{1,3}not\s{1,3}resolve\s{1,3}host"),
    (N.DNS, "getaddrinfo", r"getaddrinfo\s{0,3}(?:enotfound|eai_again|failed)"),
    (N.DNS, "servname", r"nodename\s{1,3}nor\s{1,3}servname"),
    (N.DNS, "nxdomain", r"nxdomain"),
    # The az CLI's own checks (`az acr check-health`, `az acr login`).
    (N.DNS, "connectivity_", r"connectivity_dns_error"),
    (N.DNS, "login_server_error", r"login_server_error"),
    (N.TLS, "connectivity_", r"connectivity_ssl_error"),
    (N.AUTHENTICATION, "connectivity_", r"connectivity_aad_login_error"),
    (N.PERMISSION, "connectivity_", r"connectivity_access_token_error"),
    # A lookup answered (or not) by a DNS server `<ip>:53`: that address is the resolver.
    (N.DNS, "lookup",
     r"lookup\s{1,3}[a-z0-9*.-]{1,253}\s{1,3}on\s{1,3}\[?[0-9a-f.:]{2,45}\]?:53\b"),
    (N.TLS, "x509:", r"x509:"),
    (N.TLS, "certificate",
     r"certificate\s{1,3}(?:verify\s{1,3}failed|has\s{1,3}expired|is\s{1,3}not\s{1,3}valid"
     r"|signed\s{1,3}by\s{1,3}unknown)"),
    (N.TLS, "verify", r"tls:\s{0,3}failed\s{1,3}to\s{1,3}verify"),
    (N.TLS, "handshake", r"tls:\s{0,3}handshake\s{1,3}failure"),
    (N.TLS, "certificate", r"ssl\s{1,3}certificate\s{1,3}problem"),
    (N.TLS, "certificate", r"remote\s{1,3}certificate\s{1,3}is\s{1,3}invalid"),
    (N.TLS, "certificate", r"local\s{1,3}issuer\s{1,3}certificate"),
    (N.RATE_LIMITED, "toomanyrequests", r"toomanyrequests"),
    (N.RATE_LIMITED, "requests", r"too\s{1,3}many\s{1,3}requests"),
    (N.RATE_LIMITED, "limit", r"pull\s{1,3}rate\s{1,3}limit"),
    (N.SERVER_ERROR, "internal", r"internal\s{1,3}server\s{1,3}error"),
    (N.SERVER_ERROR, "gateway", r"bad\s{1,3}gateway"),
    (N.SERVER_ERROR, "unavailable", r"service\s{1,3}unavailable"),
    (N.SERVER_ERROR, "gateway", r"gateway\s{1,3}time-?out"),
    # Container Instances: the registry answered with an error (often Docker Hub under load).
    (N.SERVER_ERROR, "registryerrorresponse", r"registryerrorresponse"),
    (N.SERVER_ERROR, "received",
     r"an\s{1,3}error\s{1,3}response\s{1,3}is\s{1,3}received\s{1,3}from\s{1,3}the\s{1,3}docker"
     r"\s{1,3}registry"),
    (N.NOT_FROM_REGISTRY, "parsing",
     r"error\s{1,3}parsing\s{1,3}http\s{1,3}\d{3}\s{1,3}response\s{1,3}body:\s{0,3}"
     r"(?:unexpected\s{1,3}end\s{1,3}of\s{1,3}json|invalid\s{1,3}character\s{1,3}'<')"),
    # An HTML error page (a proxy's, a gateway's or a WAF's): the registry answers in JSON.
    (N.NOT_FROM_REGISTRY, "<title>", r"<title>\s{0,3}[45]\d\d\b"),
    (N.NOT_FROM_REGISTRY, "gave",
     r"server\s{1,3}gave\s{1,3}http\s{1,3}response\s{1,3}to\s{1,3}https\s{1,3}client"),
    (N.NOT_FROM_REGISTRY, "attempt",
     r"login\s{1,3}attempt\s{1,3}to\s{1,3}\S{1,300}\s{1,3}failed\s{1,3}with\s{1,3}status:"
     r"\s{0,3}404"),
    (N.CONNECTIVITY, "timeout", r"i/o\s{1,3}timeout"),
    (N.CONNECTIVITY, "timeout", r"tls\s{1,3}handshake\s{1,3}timeout"),
    (N.CONNECTIVITY, "timeout", r"client\.timeout\s{1,3}exceeded"),
    (N.CONNECTIVITY, "connect", r"connection\s{1,3}(?:timed\s{1,3}out|reset|refused)"),
    (N.CONNECTIVITY, "connect", r"could\s{1,3}not\s{1,3}connect\s{1,3}to\s{1,3}the\s{1,3}registry"),
    (N.CONNECTIVITY, "connect", r"proxyconnect\s{1,3}tcp"),
    (N.CONNECTIVITY, "deadline", r"context\s{1,3}deadline\s{1,3}exceeded"),
    (N.CONNECTIVITY, "route", r"no\s{1,3}route\s{1,3}to\s{1,3}host"),
    (N.CONNECTIVITY, "unreachable", r"network\s{1,3}is\s{1,3}unreachable"),
    (N.CONNECTIVITY, "establish",
     r"failed\s{1,3}to\s{1,3}establish\s{1,3}a\s{1,3}new\s{1,3}connection"),
    (N.LOCAL_TOOL, "docker_", r"docker_(?:command|daemon)_error"),
    (N.STORAGE, "authorized", r"this\s{0,3}request\s{0,3}is\s{0,3}not\s{0,3}authorized"),
    (N.STORAGE, "authorization", r"authorization(?:failure|permissionmismatch)\b"),
    (N.AUTHENTICATION, "unauthorized", r"unauthorized\b"),
    (N.AUTHENTICATION, "authentication", r"authentication\s{0,3}required"),
    (N.PERMISSION, "insufficient_scope", r"insufficient_scope"),
    (N.PERMISSION, "permissions", r"retrieving\s{0,3}permissions\s{0,3}failed"),
    (N.PERMISSION, "resource",
     r"requested\s{0,3}access\s{0,3}to\s{0,3}the\s{0,3}resource\s{0,3}is\s{0,3}denied"),
    (N.NOT_FOUND, "manifest", r"manifest\s{0,3}unknown"),
    (N.NOT_FOUND, "manifest", r"manifest_unknown"),
    (N.NOT_FOUND, "name_unknown", r"name_unknown"),
    (N.NOT_FOUND, "specified", r"specified\s{1,3}tag\s{1,3}does\s{1,3}not\s{1,3}exist"),
    # Also `docker: not found` and `command not found: helm`: the parser reads what is around
    # it and makes those LOCAL_TOOL.
    (N.NOT_FOUND, "found", r"not\s{1,3}found\b"),
    # A connection cut before any answer: `Get "https://…/v2/": EOF`.
    _after_colon(N.CONNECTIVITY, "eof"),
)  # fmt: skip
#: Which cause explains a paste that shows several (a timeout explains a later `not found`).
CAUSE_PRIORITY: tuple[NotFirewallCause, ...] = (
    N.LOCAL_TOOL, N.KUBERNETES_API, N.DNS, N.TLS, N.PRIVATE_ENDPOINT, N.CONNECTIVITY,
    N.RATE_LIMITED,
    N.NOT_FROM_REGISTRY, N.SERVER_ERROR, N.STORAGE, N.AUTHENTICATION, N.PERMISSION, N.NOT_FOUND,
)  # fmt: skip
#: Registries that are not Azure Container Registries, by host or by their own wording, and the
#: name the card gives them. An error tied to one of these is never ACR's firewall.
OTHER_REGISTRIES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"ghcr\.io\b"), "GitHub Container Registry (ghcr.io)"),
    (re.compile(r"docker\.pkg\.dev\b"), "Google Artifact Registry"),
    (re.compile(r"artifactregistry\."), "Google Artifact Registry"),
    (re.compile(r"gcr\.io\b"), "Google Container Registry"),
    (re.compile(r"\.dkr\.ecr\.[a-z0-9-]{1,30}\.amazonaws\.com"), "Amazon ECR"),
    (re.compile(r"public\.ecr\.aws\b"), "Amazon ECR Public"),
    (re.compile(r"reauthenticate\s{1,3}and\s{1,3}try\s{1,3}again"), "Amazon ECR"),
    (re.compile(r"aws\s{1,3}ecr\s{1,3}get-login"), "Amazon ECR"),
    (re.compile(r"registry-1\.docker\.io|auth\.docker\.io|index\.docker\.io"), "Docker Hub"),
    (re.compile(r"quay\.io\b"), "Quay.io"),
    (re.compile(r"registry\.gitlab\.com\b"), "GitLab Container Registry"),
    (re.compile(r"mcr\.microsoft\.com\b"), "Microsoft Container Registry (mcr.microsoft.com)"),
    (re.compile(r"nvcr\.io\b"), "NVIDIA NGC (nvcr.io)"),
)

#: Tools whose absence (`docker: not found`) is a local error, not a registry one.
LOCAL_TOOLS = (
    r"docker|podman|nerdctl|crictl|ctr|helm|oras|skopeo|buildah|kubectl|az|regctl|crane|"
    r"docker-compose"
)
TOOL_NOT_FOUND_BEFORE = re.compile(
    r"(?:^|[\s'\"/])(?:"
    + LOCAL_TOOLS
    + r")(?:\.exe)?'?:\s{0,3}(?:line\s{1,3}\d{1,6}:\s{0,3}|\d{1,6}"
    r":\s{0,3})?(?:command\s{1,3})?$"
)
TOOL_NOT_FOUND_AFTER = re.compile(r"\s{0,3}:\s{0,3}(?:" + LOCAL_TOOLS + r")\b")
#: The address a connection error dialled: `dial tcp 10.1.2.4:443` or `->52.1.2.3:443`.
CONNECT_TARGET = re.compile(
    r"(?:dial\s{1,3}tcp\s{1,3}|->)\[?(?P<ip>[0-9a-f:.]{2,45}?)\]?:(?P<port>\d{1,5})\b"
)
#: A 5xx that the docker SDK or App Service wraps around another error says nothing itself.
WRAPPER_5XX = re.compile(r"http\+docker|docker\s{1,3}api\s{1,3}responded")
#: A 403 near these came from storage, not from the registry's firewall.
STORAGE_HOSTS = (
    re.compile(r"\.blob\.core\.(?:windows\.net|chinacloudapi\.cn)"),
    re.compile(r"\.data\.azurecr\."),
)
#: After an `access … denied` or a refresh-token error: which status followed.
FOLLOWING_401 = re.compile(r"\b401\b")
FOLLOWING_403 = re.compile(r"\b403\b")
FOLLOWING_404 = re.compile(r"\b404\b")

# --- the resource the pull ran on (lower-cased text; names read back in their original case) ----

R = ResourceKind


class ResourceRule(NamedTuple):
    """Where a platform writes the name of the resource a pull ran on. `name` (or `revision`,
    `node`, `group`) is the group to read; `weight` ranks a rule against the others (an ARM id
    names a resource for certain, a host name only most likely)."""

    kind: ResourceKind | None
    gate: str
    pattern: re.Pattern[str]
    weight: int
    #: The match counts only at the start of a word (not for a path or a host suffix).
    word: bool = True


#: What a Container App's name may be (lower case, `-`, no `--`, up to 32 characters); a web
#: app's and a container group's are alike, with up to 60 and 63 characters. Each is read in one
#: possessive run and may not end with `-`: a name that the next character continues (`_END`)
#: fails at once instead of being retried one character shorter at a time.
_APP = r"[a-z][a-z0-9-]{0,31}+(?<!-)"
#: A Container App's name followed by `--` (a revision's or replica's): hyphen-separated runs.
_APP_BEFORE_DASHES = r"[a-z][a-z0-9]{0,31}+(?:-[a-z0-9]{1,31}+){0,15}+"
_SITE = r"[a-z0-9][a-z0-9-]{0,59}+(?<!-)"
_GROUP = r"[a-z0-9][a-z0-9-]{0,62}+(?<!-)"
#: The end of a name: the next character cannot continue it.
_END = r"(?![a-z0-9_-])"

RESOURCE_RULES: tuple[ResourceRule, ...] = (
    # An ARM id of one of the four kinds: subscription, group and name for certain.
    ResourceRule(None, "/providers/microsoft.", re.compile(
        r"/subscriptions/(?P<sub>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
        r"/resourcegroups/(?P<rg>[a-z0-9_.()-]{1,90}+)/providers/(?P<type>microsoft\.app/"
        r"containerapps|microsoft\.web/sites|microsoft\.containerservice/managedclusters"
        r"|microsoft\.containerinstance/containergroups)/(?P<name>[a-z0-9][a-z0-9_.-]{0,259}+)"
        + _END), 5, word=False),
    # Container Apps: the ARM error (`Failed to provision revision for container app 'x'`), azd's
    # progress line (`Container App: x`), the system logs' JSON (`"ContainerAppName":"x"`, and
    # `ContainerAppName_s` in Log Analytics), and revisions and replicas (`<app>--<suffix>`).
    ResourceRule(R.CONTAINER_APP, "container", re.compile(
        rf"container\s{{0,3}}+app\s{{0,3}}+(?:'|\"|:\s{{0,3}}+['\"]?)(?P<name>{_APP}){_END}"), 4),
    ResourceRule(R.CONTAINER_APP, "containerappname", re.compile(
        rf"containerappname(?:_s)?[\"']?\s{{0,3}}+[:=]\s{{0,3}}+[\"']?(?P<name>{_APP}){_END}"), 4),
    ResourceRule(R.CONTAINER_APP, "revision", re.compile(
        rf"revision(?:name(?:_s)?)?[\"']?(?:\s{{0,3}}+[:=])?\s{{0,3}}+[\"']?"
        rf"(?P<revision>(?P<name>{_APP_BEFORE_DASHES})--[a-z0-9][a-z0-9-]{{0,63}}+){_END}"), 4),
    ResourceRule(R.CONTAINER_APP, "replica", re.compile(
        rf"replica(?:name(?:_s)?)?[\"']?(?:\s{{0,3}}+[:=])?\s{{0,3}}+[\"']?"
        rf"(?P<name>{_APP_BEFORE_DASHES})--"),
        4),
    # App Service: the container's environment (`WEBSITE_SITE_NAME=x`), the platform's log
    # lines (`Container x_0_1a2b for site x has exited`, `Stopping site x because…`,
    # `Site: x stopped.`). A host name is weaker: it can be a deployment slot's.
    ResourceRule(R.WEB_APP, "website_site_name", re.compile(
        rf"website_site_name\s{{0,3}}+[=:]\s{{0,3}}+[\"']?(?P<name>{_SITE}){_END}"), 4),
    ResourceRule(R.WEB_APP, "site", re.compile(
        rf"for\s{{1,3}}+site\s{{1,3}}+(?P<name>{_SITE}){_END}"), 4),
    ResourceRule(R.WEB_APP, "site", re.compile(
        rf"stop+ing\s{{1,3}}+site\s{{1,3}}+(?P<name>{_SITE}){_END}"), 4),
    ResourceRule(R.WEB_APP, "stopped", re.compile(
        rf"site:\s{{0,3}}+(?P<name>{_SITE})\s{{1,3}}+stopped\b"), 4),
    # `<site>.azurewebsites.net` and its Kudu `<site>.scm.azurewebsites.net`: the name is read
    # backwards from the suffix (`WEB_HOST_NAME_REVERSED`), as a registry's is before `.azurecr.`.
    ResourceRule(R.WEB_APP, "azurewebsites", re.compile(
        r"(?P<suffix>\.azurewebsites\.net)" + _END), 2, word=False),
    # AKS: the node a pod was scheduled on (`Successfully assigned ns/pod to aks-<pool>-<digits>-
    # vmss000000`), or its scale set in a provider id; the node resource group
    # (`MC_<group>_<cluster>_<region>`).
    ResourceRule(R.AKS_CLUSTER, "-vmss", re.compile(
        r"(?P<node>aks-[a-z][a-z0-9]{0,11}-[0-9]{4,10}-vmss(?:[0-9a-z]{6})?)" + _END), 2),
    ResourceRule(R.AKS_CLUSTER, "mc_", re.compile(
        r"(?P<nodegroup>mc_[a-z0-9_.()-]{1,80}_[a-z]{2,25}[0-9]{0,2})" + _END), 2),
    # Container Instances: `The image '…' in container group 'x' is not accessible`.
    ResourceRule(R.CONTAINER_GROUP, "group", re.compile(
        rf"in\s{{1,3}}+container\s{{1,3}}+group\s{{1,3}}+['\"]?(?P<name>{_GROUP}){_END}"), 4),
)  # fmt: skip
#: The label before `.azurewebsites.net` read backwards (`ten.setisbewerua.` is not in it):
#: `[mcs.]<site>` then nothing host-like.
WEB_HOST_NAME_REVERSED = re.compile(
    r"(?:mcs\.)?(?P<name>[a-z0-9][a-z0-9-]{0,58}[a-z0-9])(?![a-z0-9.-])"
)
#: `az <group> <subcommand>`: the command a resource name is given to; its flags are found
#: separately in the rest of the command line (as for `az acr`, `AZ_ACR_FLAG`).
AZ_RESOURCE_HEAD = re.compile(
    r"az\s{1,3}+(?P<tool>containerapp|webapp|functionapp|aks|container)\s{1,3}+"
    r"(?P<sub>[a-z][a-z-]{1,29}+)(?![a-z-])"
)
AZ_RESOURCE_TOOLS = {
    "containerapp": R.CONTAINER_APP,
    "webapp": R.WEB_APP,
    "functionapp": R.WEB_APP,
    "aks": R.AKS_CLUSTER,
    "container": R.CONTAINER_GROUP,
}
#: Subcommands whose `--name` is something else (an environment, a job, a plan); `az aks
#: nodepool` names its cluster with `--cluster-name`.
AZ_OTHER_NAMES = frozenset(
    {"env", "job", "connected-env", "compose", "plan", "list", "machine", "sessionpool"}
)
#: ` -n NAME`, ` --name=NAME`, ` --cluster-name NAME`, ` -g GROUP`, ` --resource-group GROUP`.
AZ_RESOURCE_FLAG = re.compile(
    r" (?P<flag>-n|--name|--cluster-name|-g|--resource-group)(?:\s{1,3}+|=)['\"]?"
    r"(?P<value>[a-z0-9][a-z0-9_.()-]{0,89}+)(?![\w$.()-])"
)
AZ_RESOURCE_REACH = 400
#: Names people put in a command they share instead of their own.
RESOURCE_PLACEHOLDERS = frozenset(
    {"name", "app", "appname", "app-name", "app_name", "rg", "group", "resourcegroup",
     "resource-group", "resource_group", "cluster", "clustername", "cluster-name", "cluster_name",
     "site", "sitename", "site-name", "myresourcegroup", "myakscluster", "mycontainerapp",
     "mywebapp", "mycontainergroup"}
)  # fmt: skip


# --- clients (lower-cased text), most specific first --------------------------------------------

_CLIENT_SOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # App Service's own words about its site, first: its sidecar-era log also says
    # `ImagePullFailure`, which is otherwise Container Apps' word.
    ("app_service", (
        r"site\s{1,3}container:", r"failed\s{1,3}to\s{1,3}start\s{1,3}site\b",
        r"site:\s{0,3}\S{1,60}\s{1,3}stopped\b", r"website_site_name\b")),
    ("container_apps", (
        r"webhookinvalidparametervalue", r"imagepullfailure", r"containerapp", r"microsoft\.app\b",
        r"template\.containers", r"unable\s{1,3}to\s{1,3}pull\s{1,3}image\s{1,3}using\s{1,3}"
        r"managed\s{1,3}identity")),
    ("container_instances", (
        r"inaccessibleimage", r"container\s{1,3}group\b", r"microsoft\.containerinstance",
        r"az\s{1,3}container\s{1,3}create")),
    ("app_service", (
        r"dockerapiexception", r"kudu\b", r"microsoft\.web\b", r"az\s{1,3}webapp\b",
        r"\"message\"\s{0,5}:\s{0,5}\"denied\"\s{0,5}\}", r"pulling\s{1,3}image:",
        r"container\s{1,3}\S{1,80}\s{1,3}for\s{1,3}site\s", r"_docker\.log\b", r"websites?_\w")),
    ("acr_import", (r"az\s{1,3}acr\s{1,3}import\b", r"/importimage\b")),
    ("acr_tasks", (
        r"az\s{1,3}acr\s{1,3}(?:build|run|task)\b", r"run\s{1,3}id:\s{0,3}\w",
        r"waiting\s{1,3}for\s{1,3}an\s{1,3}agent", r"queued\s{1,3}a\s{1,3}(?:build|run)\b",
        r"acb_(?:step|vol|default)")),
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
    # The az CLI's own error texts, before docker: `az acr login` drives docker, and its errors
    # say more about what failed than the daemon's lines around them.
    ("az_cli", (
        r"connectivity_[a-z_]{1,40}_error\b",
        r"unable\s{1,3}to\s{1,3}get\s{1,3}aad\s{1,3}authorization",
        r"looks\s{1,3}like\s{1,3}you\s{1,3}don'?t\s{1,3}have\s{1,3}access",
        r"could\s{1,3}not\s{1,3}connect\s{1,3}to\s{1,3}the\s{1,3}registry\s{1,3}login")),
    ("docker", (
        r"error\s{1,3}response\s{1,3}from\s{1,3}daemon",
        r"docker(?:-compose)?\s{1,3}(?:pull|push|run|login|create|compose)\b",
        r"unable\s{1,3}to\s{1,3}find\s{1,3}image\s{1,3}'")),
    ("az_cli", (r"az\s{1,3}acr\b", r"access\s{1,3}to\s{1,3}registry\s{1,3}'")),
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
    (client, re.compile(tight(source))) for client, sources in _CLIENT_SOURCES for source in sources
)
