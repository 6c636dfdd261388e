"""Block Kit ids: the contract between the views that draw buttons and the listeners that answer
them. Kept apart so the HTTP function's listeners load no view builders or services they do not
need on the ack path."""

from __future__ import annotations

REQUEST_ACTION = "request_access"
APPROVE, DENY, WITHDRAW, REVOKE = "grant_approve", "grant_deny", "grant_withdraw", "grant_revoke"
EXTEND_ASK, EXTEND_APPROVE, EXTEND_DENY = (
    "grant_extend_ask",
    "grant_extend_approve",
    "grant_extend_deny",
)
APPROVAL_DURATION_BLOCK, APPROVAL_DURATION_ACTION = "approval_duration", "approval_duration_choice"
#: "Request again" on a request that ended (expired, lapsed, denied, failed): the request form,
#: filled in from the old one.
REQUEST_AGAIN = "grant_request_again"
#: Approve and Deny on the App Home: a modal showing the request first (the Home lists it in a
#: line; the channel's card shows it whole).
REVIEW_APPROVE, REVIEW_DENY = "grant_review_approve", "grant_review_deny"
#: The egress lookup a card offers when the paste hid the address: open the form, pick one of
#: the listed resources, or look up the one the paste named; the form's submission.
LOOKUP_OPEN, LOOKUP_PICK, LOOKUP_NAMED, LOOKUP_CALLBACK = (
    "egress_lookup_open",
    "egress_lookup_pick",
    "egress_lookup_named",
    "egress_lookup_submit",
)
