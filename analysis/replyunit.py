"""The unit (承办单位) a government reply names: its signature, or else the last unit it mentions.

Replies exported from 问政 platforms often carry no unit column; the text usually names the
replying or handling department (``……特此回复。A7县交通运输局 2019年5月9日``, or ``区住房和城乡
建设局已要求……``). :func:`reply_unit` reads that name, with the locality codes of anonymised
exports (``A7县``, ``J10 县``) dropped so the same department of different places compares
equal. A heuristic: None when the text names no unit; "我局" and the like are not names.
"""

from __future__ import annotations

import re

_SUFFIX = (r"(?:局|委员会|委|办事处|人民政府|政府|管理处|服务中心|中心|大队|支队|办公室|办公厅|"
           r"管委会|指挥部|公司|医院|学校|学院|中队)")
# a name ends with its suffix: not 局长 / 局面 / 中心城区 / 公司法 …
_NAME = re.compile(r"([\u4e00-\u9fa5A-Za-z0-9]{2,24}?" + _SUFFIX + r")(?![长面势部限域外内里城区法员])")
_DATE_END = re.compile(r"(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}-\d{1,2}-\d{1,2})\s*[。.]?\s*$")
# locality codes of anonymised exports and generic place prefixes
_PLACE = re.compile(r"^(?:中共)?(?:[A-Z]\d*\s*(?:市|县|区)?|[市县区省])+")
_NOT_NAMES = ("我局", "我委", "我办", "本局", "贵局", "相关部门", "有关部门", "主管部门", "职能部门")
_LEADING_NOISE = re.compile(r"^.*(?:由|经|请|向|到|联系|致电|咨询|协调|会同|督促|要求|责成|交由|联合|按照|根据|依据|以|的|是|在|对)")


def _clean(name: str) -> str | None:
    name = _LEADING_NOISE.sub("", name)
    name = _PLACE.sub("", name).strip()
    if len(name) < 3 or name in _NOT_NAMES or any(c in name for c in "我您你本贵该此"):
        return None
    return name


def reply_unit(text: str | None) -> str | None:
    """The unit a reply names: the one signing it (just before its closing date) if any, else the
    last unit it mentions; locality codes dropped. None when it names none."""
    if not text:
        return None
    body = text.strip()
    m = _DATE_END.search(body)
    if m:
        head = body[: m.start()].rstrip(" 。.")
        tail = head[-40:]
        found = _NAME.findall(tail)
        if found and tail.endswith(found[-1]):
            name = _clean(found[-1])
            if name:
                return name
    names = [_clean(n) for n in _NAME.findall(body)]
    names = [n for n in names if n]
    return names[-1] if names else None
