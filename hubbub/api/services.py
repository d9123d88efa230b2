"""/v1/Services, /v1/Services/{IS}/Configuration and /v1/Services/{IS}/Configuration/Notifications."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select
from starlette.responses import Response
from starlette.routing import Route

from hubbub.actions import services as actions
from hubbub.api.forms import Form
from hubbub.api.http import Call, json_response
from hubbub.api.pagination import PageRequest, envelope
from hubbub.api.routing import resource
from hubbub.domain.clock import iso
from hubbub.store.schema import services

MAX_TEMPLATE = 1024
MAX_SOUND = 256

# -- representations ---------------------------------------------------------------------------------

SERVICE_LINKS = {
    "conversations": "Conversations",
    "users": "Users",
    "roles": "Roles",
    "bindings": "Bindings",
    "configuration": "Configuration",
    "participant_conversations": "ParticipantConversations",
    "conversation_with_participants": "ConversationWithParticipants",
}


def service(call: Call, row: Any) -> dict[str, Any]:
    url = f"{call.base_url}/v1/Services/{row['sid']}"
    return {
        "account_sid": row["account_sid"],
        "sid": row["sid"],
        "friendly_name": row["friendly_name"],
        "date_created": iso(row["date_created"]),
        "date_updated": iso(row["date_updated"]),
        "url": url,
        "links": {name: f"{url}/{path}" for name, path in SERVICE_LINKS.items()},
    }


def service_configuration(call: Call, row: Any) -> dict[str, Any]:
    url = f"{call.base_url}/v1/Services/{row['chat_service_sid']}/Configuration"
    return {
        "chat_service_sid": row["chat_service_sid"],
        "default_conversation_creator_role_sid": row["default_conversation_creator_role_sid"],
        "default_conversation_role_sid": row["default_conversation_role_sid"],
        "default_chat_service_role_sid": row["default_chat_service_role_sid"],
        "url": url,
        "links": {"notifications": f"{url}/Notifications", "webhooks": f"{url}/Webhooks"},
        "reachability_enabled": bool(row["reachability_enabled"]),
    }


def notification(call: Call, row: Any) -> dict[str, Any]:
    settings = actions.notification_settings(row["notifications"])
    return {
        "account_sid": row["account_sid"],
        "chat_service_sid": row["chat_service_sid"],
        "new_message": settings["new_message"],
        "added_to_conversation": settings["added_to_conversation"],
        "removed_from_conversation": settings["removed_from_conversation"],
        "log_enabled": settings["log_enabled"],
        "url": f"{call.base_url}/v1/Services/{row['chat_service_sid']}/Configuration/Notifications",
    }


# -- services ----------------------------------------------------------------------------------------

async def create(call: Call) -> Response:
    name = call.form.str("FriendlyName", max_len=256, required=True, allow_empty=False)
    return await call.write(lambda conn: actions.do_create_service(conn, call.scope, name),
                            lambda row: service(call, row), 201)


async def fetch(call: Call) -> Response:
    sid = call.path["Sid"]
    row = await call.db.read(lambda conn: actions.get_service(conn, call.scope.account_sid, sid))
    return json_response(service(call, row))


async def remove(call: Call) -> Response:
    sid = call.path["Sid"]
    return await call.write(lambda conn: actions.do_delete_service(conn, call.scope, sid), None)


async def list_(call: Call) -> Response:
    page = PageRequest(call, max_size=100)

    def query(conn: Connection) -> Any:
        q = select(services).where(services.c.account_sid == call.scope.account_sid)
        return page.fetch(conn, q, services.c.id)

    rows, has_next, has_prev = await call.db.read(query)
    return json_response(envelope(call, "services", page, rows, has_next, has_prev,
                                  lambda r: r["id"], lambda r: service(call, r)))


# -- service configuration ---------------------------------------------------------------------------

async def fetch_configuration(call: Call) -> Response:
    row = await call.db.read(lambda conn: actions.get_service_configuration(conn, call.scope))
    return json_response(service_configuration(call, row))


async def update_configuration(call: Call) -> Response:
    form = call.form
    fields = actions.ServiceConfigurationFields(
        default_conversation_creator_role_sid=form.sid("DefaultConversationCreatorRoleSid", "RL"),
        default_conversation_role_sid=form.sid("DefaultConversationRoleSid", "RL"),
        default_chat_service_role_sid=form.sid("DefaultChatServiceRoleSid", "RL"),
        reachability_enabled=form.boolean("ReachabilityEnabled"),
    )
    return await call.write(lambda conn: actions.do_update_service_configuration(conn, call.scope, fields),
                            lambda row: service_configuration(call, row))


# -- push notification settings ------------------------------------------------------------------------

# form parameter → (path in the settings document, kind)
NOTIFICATION_PARAMETERS: dict[str, tuple[tuple[str, ...], str]] = {
    "LogEnabled": (("log_enabled",), "boolean"),
    "NewMessage.Enabled": (("new_message", "enabled"), "boolean"),
    "NewMessage.Template": (("new_message", "template"), "template"),
    "NewMessage.Sound": (("new_message", "sound"), "sound"),
    "NewMessage.BadgeCountEnabled": (("new_message", "badge_count_enabled"), "boolean"),
    "NewMessage.WithMedia.Enabled": (("new_message", "with_media", "enabled"), "boolean"),
    "NewMessage.WithMedia.Template": (("new_message", "with_media", "template"), "template"),
    "AddedToConversation.Enabled": (("added_to_conversation", "enabled"), "boolean"),
    "AddedToConversation.Template": (("added_to_conversation", "template"), "template"),
    "AddedToConversation.Sound": (("added_to_conversation", "sound"), "sound"),
    "RemovedFromConversation.Enabled": (("removed_from_conversation", "enabled"), "boolean"),
    "RemovedFromConversation.Template": (("removed_from_conversation", "template"), "template"),
    "RemovedFromConversation.Sound": (("removed_from_conversation", "sound"), "sound"),
}


def notification_changes(form: Form) -> actions.NotificationChanges:
    """The settings the form changes. An empty Template or Sound clears it (back to the default)."""
    changes: actions.NotificationChanges = {}
    for name, (path, kind) in NOTIFICATION_PARAMETERS.items():
        if name not in form:
            continue
        if kind == "boolean":
            changes[path] = form.boolean(name)
        else:
            value = form.str(name, max_len=MAX_TEMPLATE if kind == "template" else MAX_SOUND)
            changes[path] = value or None
    return changes


async def fetch_notifications(call: Call) -> Response:
    row = await call.db.read(lambda conn: actions.get_service_configuration(conn, call.scope))
    return json_response(notification(call, row))


async def update_notifications(call: Call) -> Response:
    changes = notification_changes(call.form)
    return await call.write(lambda conn: actions.do_update_notifications(conn, call.scope, changes),
                            lambda row: notification(call, row))


SVC = "/v1/Services/{ChatServiceSid}"

routes: list[Route] = [
    resource("/v1/Services", GET=list_, POST=create),
    resource("/v1/Services/{Sid}", GET=fetch, DELETE=remove),
    resource(f"{SVC}/Configuration", GET=fetch_configuration, POST=update_configuration),
    resource(f"{SVC}/Configuration/Notifications", GET=fetch_notifications, POST=update_notifications),
]
