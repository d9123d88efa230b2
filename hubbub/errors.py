"""Twilio-style API errors.

Every failure a client can cause is a `TwilioError` carrying the HTTP status and the Twilio error code;
the API layer renders it as `{"code", "message", "more_info", "status"}`. Codes follow Twilio's error
dictionary where Twilio documents one (see docs/errors.md for the full table and Hubbub's own codes).
"""

from __future__ import annotations


class TwilioError(Exception):
    status: int = 400
    code: int = 20001

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def body(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


class InvalidParameter(TwilioError):
    """A request parameter is malformed, of the wrong type, too long or not one of the allowed values."""

    status, code = 400, 20001


class AuthenticationFailed(TwilioError):
    status, code = 401, 20003


class NotFound(TwilioError):
    status, code = 404, 20404


class MethodNotAllowed(TwilioError):
    status, code = 405, 20004


class UnsupportedMediaType(TwilioError):
    status, code = 415, 20415


class Conflict(TwilioError):
    status = 409


class IdempotencyKeyReused(TwilioError):
    status, code = 422, 20422


# Conversation-domain codes from Twilio's error dictionary.
UNIQUE_NAME_TAKEN = 50353
PARTICIPANT_EXISTS = 50433
BINDING_INVALID = 50407
PAIR_IN_USE = 50416
DUPLICATE_IN_CONVERSATION = 50437
TOO_MANY_PARTICIPANTS = 50417
TOO_MANY_NON_CHAT_PARTICIPANTS = 50418
CONVERSATION_CLOSED = 50377
TIMER_INACTIVE_TOO_SHORT = 50375
TIMER_CLOSED_TOO_SHORT = 50376
TIMER_INACTIVE_INVALID = 50379
TIMER_CLOSED_INVALID = 50380
TIMERS_NEED_STATE = 50382
INVALID_CREATE_STATE = 50384
# Roles, users and user conversations (Twilio's Chat codes; ROLE_IN_USE is Hubbub's own).
ROLE_NOT_FOUND = 50100
PERMISSION_NOT_FOUND = 50104
INVALID_ROLE_TYPE = 50105
ROLE_IN_USE = 50108
USER_EXISTS = 50201
IDENTITY_IS_USER_SID = 50206
INVALID_NOTIFICATION_LEVEL = 50210
INVALID_LAST_READ_INDEX = 50421
ONE_LOOKUP_PARAMETER = 50451
# Services (Hubbub's own code).
SERVICE_IN_USE = 50057
# ConversationWithParticipants, address configurations, conversation-scoped webhooks
# (Twilio's codes; ADDRESS_CONFIGURATION_EXISTS is Hubbub's own).
TOO_MANY_SCOPED_WEBHOOKS = 50361
TOO_MANY_TRIGGERS = 50362
INVALID_TRIGGER = 50366
TRIGGERS_MISSING = 50371
CWP_PAIR_IN_USE = 50425
TOO_MANY_PARTICIPANTS_IN_REQUEST = 50426
CWP_FAILED = 50427
ADDRESS_CONFIGURATION_EXISTS = 50460
# Webhooks (Hubbub's own codes).
PRE_WEBHOOK_REJECTED = 50070
DELIVERY_NOT_REPLAYABLE = 50071
# Real-time gateway: access tokens (Twilio's 2010x codes) and SDK permission checks (Twilio's Chat codes;
# RESYNC_REQUIRED is Hubbub's own).
TOKEN_INVALID = 20101
TOKEN_INVALID_HEADER = 20102
TOKEN_INVALID_ISSUER = 20103
TOKEN_EXPIRED = 20104
TOKEN_NOT_YET_VALID = 20105
TOKEN_INVALID_GRANTS = 20106
TOKEN_INVALID_SIGNATURE = 20107
TOKEN_TTL_TOO_LONG = 20157
PERMISSION_DENIED = 50107
NOT_A_PARTICIPANT = 50430
RESYNC_REQUIRED = 50072
BODY_TOO_LONG = 50504  # Twilio's "Message body parameter is too long" (Chat and Conversations share codes)
# Media (Twilio's Chat/Conversations media codes; MEDIA_EMPTY and MEDIA_ATTACHED are Hubbub's own).
MEDIA_NOT_FOUND = 50507
MEDIA_ALREADY_ATTACHED = 50508
MEDIA_SID_INVALID = 50510
MEDIA_CONTENT_TYPE_INVALID = 50511
MEDIA_TOO_LARGE = 50512
MEDIA_EMPTY = 50513
MEDIA_ATTACHED = 50514
