"""Messages (留言办理): citizens' messages from every configured channel (12345热线, 政府信息公开
咨询电话, 领导信箱, 网上留言, 问政, 省长建言, 调查征集 ... — ``messages.toml``).

:mod:`ledger.messages.intake` stores messages read from exports (each linked to its post, with its
reply clock applied); :mod:`ledger.messages.entry` records messages entered by hand, marks them
simple and assigns their unit; :mod:`ledger.messages.service` records replies and lists messages.
The reply clock itself lives in :mod:`ledger.clocks.replies`.
"""

from ledger.messages.intake import RawMessage, store_messages
from ledger.messages.service import MessageError, list_messages, message_row, record_reply

__all__ = ["MessageError", "RawMessage", "list_messages", "message_row", "record_reply", "store_messages"]
