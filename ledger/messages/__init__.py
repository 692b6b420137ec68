"""Messages (留言办理): citizens' messages from 12345, 领导信箱 and other channels.

:mod:`ledger.messages.intake` stores messages read from exports (each linked to its post, with its
reply clock applied); :mod:`ledger.messages.service` records replies and lists messages. The reply
clock itself lives in :mod:`ledger.clocks.replies`.
"""

from ledger.messages.intake import RawMessage, store_messages
from ledger.messages.service import MessageError, list_messages, message_row, record_reply

__all__ = ["MessageError", "RawMessage", "list_messages", "message_row", "record_reply", "store_messages"]
