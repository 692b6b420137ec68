"""Place names → jurisdiction (属地) and responsible unit, per a configurable gazetteer.

Rules (属地管理、分级负责; 谁主管、谁负责): places of exactly one county-level locality (区 / 县)
→ that locality; its government responds, or, when a focus topic with a lead unit applies, that
department of the locality. Places in several localities, or only the city itself → the city
(the superior government) or its department. Names the gazetteer does not know are recognised by
a generic pattern (``A市A2区``, ``××区``, ``××县``, ``××镇``, ``××乡``, ``××街道``) so they still get
a locality string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from analysis.rules import Hits, RuleError


@dataclass(frozen=True)
class Place:
    county: str | None  # county-level locality (区 / 县), None for the city itself
    town: str | None = None  # 镇 / 乡 / 街道


@dataclass
class JurisdictionResult:
    jurisdiction: str | None
    responsible_unit: str | None
    places: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


_SUFFIX = re.compile(r"街道|[区县镇乡]")
_CITY_CODE = re.compile(r"(?<![A-Za-z0-9])[A-Z]\d{0,2}市")
_TOWN_SUFFIXES = ("镇", "乡", "街道")


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


@dataclass
class Gazetteer:
    city: str
    city_government: str | None
    city_departments: dict[str, str]
    government_format: str
    department_format: str
    names: dict[str, Place]  # lower-cased name -> place
    display: dict[str, str]  # lower-cased name -> name as written in the gazetteer
    county_governments: dict[str, str]
    county_departments: dict[str, dict[str, str]]
    fallback: bool = True
    generic: tuple[str, ...] = ()
    not_in_name: tuple[str, ...] = ()
    stop_chars: frozenset[str] = frozenset()

    # ------------------------------------------------------------------ config
    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Gazetteer:
        """Validate a ``units.toml`` mapping; :class:`RuleError` names the bad entry."""
        if not isinstance(raw, Mapping):
            raise RuleError("地名库应为表 (units config must be a table)")
        city = raw.get("city")
        if not isinstance(city, Mapping) or not isinstance(city.get("name"), str) or not city["name"].strip():
            raise RuleError("[city] 缺少 name (city name missing)")
        fmt = raw.get("format", {})
        gov_fmt = fmt.get("government", "{locality}人民政府")
        dep_fmt = fmt.get("department", "{locality}{unit}")
        for key, value, need in (("government", gov_fmt, ("{locality}",)), ("department", dep_fmt, ("{locality}", "{unit}"))):
            if not isinstance(value, str) or any(n not in value for n in need):
                raise RuleError(f"[format] {key} 须包含 {' 与 '.join(need)}")
        names: dict[str, Place] = {}
        display: dict[str, str] = {}

        def add(name: Any, place: Place, where: str) -> None:
            if not isinstance(name, str) or not name.strip():
                raise RuleError(f"{where}: 地名应为非空字符串 (place name must be a non-empty string)")
            key = name.strip().lower()
            old = names.get(key)
            if old is not None and old != place:
                raise RuleError(f"{where}: 地名「{name}」重复且指向不同属地 (duplicate place name)")
            names[key] = place
            display[key] = name.strip()

        city_name = city["name"].strip()
        add(city_name, Place(None), "[city]")
        for alias in city.get("aliases", []):
            add(alias, Place(None), "[city] aliases")
        county_govs: dict[str, str] = {}
        county_deps: dict[str, dict[str, str]] = {}
        counties = raw.get("counties", [])
        if not isinstance(counties, list):
            raise RuleError("[[counties]] 应为表的数组")
        for i, c in enumerate(counties):
            where = f"[[counties]] 第 {i + 1} 项"
            if not isinstance(c, Mapping) or not isinstance(c.get("name"), str) or not c["name"].strip():
                raise RuleError(f"{where}: 缺少 name")
            cname = c["name"].strip()
            where = f"[[counties]] {cname}"
            add(cname, Place(cname), where)
            for alias in c.get("aliases", []):
                add(alias, Place(cname), f"{where} aliases")
            if "government" in c:
                county_govs[cname] = str(c["government"])
            deps = c.get("departments", {})
            if not isinstance(deps, Mapping):
                raise RuleError(f"{where}: departments 应为 部门 = 全称 的表")
            county_deps[cname] = {str(k): str(v) for k, v in deps.items()}
            for j, t in enumerate(c.get("towns", [])):
                if not isinstance(t, Mapping) or not isinstance(t.get("name"), str) or not t["name"].strip():
                    raise RuleError(f"{where} towns 第 {j + 1} 项: 缺少 name")
                tname = t["name"].strip()
                add(tname, Place(cname, tname), f"{where} {tname}")
                places = t.get("places", [])
                if not isinstance(places, list):
                    raise RuleError(f"{where} {tname}: places 应为地名列表")
                for p in places:
                    add(p, Place(cname, tname), f"{where} {tname} places")
        known = set(county_deps)
        for i, lm in enumerate(raw.get("landmarks", [])):
            where = f"[[landmarks]] 第 {i + 1} 项"
            if not isinstance(lm, Mapping) or lm.get("county") not in known:
                raise RuleError(f"{where}: county 应为已定义的区县之一 ({'、'.join(sorted(known))})")
            add(lm.get("name"), Place(lm["county"]), where)
        fb = raw.get("fallback", {})
        generic = fb.get("generic", [])
        if not isinstance(generic, list) or not all(isinstance(g, str) for g in generic):
            raise RuleError("[fallback] generic 应为词语列表")
        not_in_name = fb.get("not_in_name", [])
        if not isinstance(not_in_name, list) or not all(isinstance(g, str) for g in not_in_name):
            raise RuleError("[fallback] not_in_name 应为词语列表")
        stop = fb.get("stop_chars", "")
        if not isinstance(stop, str):
            raise RuleError("[fallback] stop_chars 应为字符串")
        return cls(
            city=city_name,
            city_government=city.get("government"),
            city_departments={str(k): str(v) for k, v in city.get("departments", {}).items()},
            government_format=gov_fmt,
            department_format=dep_fmt,
            names=names,
            display=display,
            county_governments=county_govs,
            county_departments=county_deps,
            fallback=bool(fb.get("enabled", True)),
            generic=tuple(generic),
            not_in_name=tuple(not_in_name),
            stop_chars=frozenset(stop),
        )

    def terms(self) -> set[str]:
        return set(self.names)

    # ------------------------------------------------------------------ units
    def _government(self, county: str | None) -> str:
        if county is None:
            return self.city_government or self.government_format.format(locality=self.city)
        return self.county_governments.get(county) or self.government_format.format(locality=self.city + county)

    def _department(self, county: str | None, unit: str) -> str:
        if county is None:
            return self.city_departments.get(unit) or self.department_format.format(locality=self.city, unit=unit)
        override = self.county_departments.get(county, {}).get(unit)
        return override or self.department_format.format(locality=self.city + county, unit=unit)

    def unit_names(self, lead_units: Iterable[str] = ()) -> list[str]:
        """Every responsible unit this gazetteer can name: the city's government and, for each of
        ``lead_units`` (the topics' 主管部门), its department; then the same for each county in
        the order of the file. No name twice."""
        leads = list(dict.fromkeys(u for u in lead_units if u))
        out = [self._government(None), *(self._department(None, u) for u in leads)]
        for county in self.county_departments:
            out.append(self._government(county))
            out.extend(self._department(county, u) for u in leads)
        return list(dict.fromkeys(out))

    # ------------------------------------------------------------------ resolve
    def resolve(self, text: str, hits: Hits, lead_units: Sequence[str] = ()) -> JurisdictionResult:
        """Jurisdiction and responsible unit for a text whose term hits are ``hits``.

        ``lead_units``: departments of the focus topics that fired, the primary one first.
        """
        found = [(name, self.names[name]) for name in hits if name in self.names]
        if not found:
            if self.fallback:
                return self._resolve_fallback(text, lead_units)
            return self._no_place(lead_units)
        found.sort(key=lambda nf: min(hits[nf[0]]))
        places = list(dict.fromkeys(self.display.get(n, n) for n, _ in found))
        counties = list(dict.fromkeys(p.county for _, p in found if p.county))
        reasons = [f"属地：地名库命中 {'、'.join(places)}"]
        unit = lead_units[0] if lead_units else None
        if len(counties) == 1:
            county = counties[0]
            towns = list(dict.fromkeys(p.town for _, p in found if p.town))
            jurisdiction = self.city + county + (towns[0] if len(towns) == 1 else "")
            responsible = self._department(county, unit) if unit else self._government(county)
            reasons.append(f"属地管理：属{self.city}{county}")
        else:
            if counties:
                jurisdiction = f"{self.city}（{'、'.join(counties)}）"
                reasons.append(f"涉及多个区县（{'、'.join(counties)}），由上级政府（{self.city}）或其主管部门回应")
            else:
                jurisdiction = self.city
                reasons.append(f"属地管理：仅提及{self.city}，由市级回应")
            responsible = self._department(None, unit) if unit else self._government(None)
        if unit:
            reasons.append(f"谁主管谁负责：牵头单位为{unit}")
            if len(lead_units) > 1:
                reasons.append(f"另涉及：{'、'.join(lead_units[1:])}，按职责分工配合")
        return JurisdictionResult(jurisdiction, responsible, places, reasons)

    def _no_place(self, lead_units: Sequence[str]) -> JurisdictionResult:
        if not lead_units:
            return JurisdictionResult(None, None, [], [])
        reasons = [f"未识别到属地；谁主管谁负责：牵头单位为{lead_units[0]}（属地待确认）"]
        if len(lead_units) > 1:
            reasons.append(f"另涉及：{'、'.join(lead_units[1:])}")
        return JurisdictionResult(None, lead_units[0], [], reasons)

    # ------------------------------------------------------------------ fallback
    def extract_places(self, text: str) -> list[tuple[str | None, str | None, str | None]]:
        """Generic place names in ``text`` as ``(city, county, town)`` triples, in order of appearance."""
        cities = [m.group() for m in _CITY_CODE.finditer(text)] if "市" in text else []
        out: list[tuple[str | None, str | None, str | None]] = []
        last_county: tuple[int, str | None, str] | None = None  # (end, city, county)
        for m in _SUFFIX.finditer(text):
            name, start = self._name_before(text, m.start(), m.group())
            if name is None:
                continue
            suffix = m.group()
            city = None
            # a city written directly before: "A市A2区" / "长沙市岳麓区"
            if start > 0 and text[start - 1] == "市":
                cm = re.search(r"(?:[A-Z]\d{0,2}|[\u4e00-\u9fff]{2})市$", text[max(0, start - 4) : start])
                if cm and cm.group() not in self.generic and not any(c in self.stop_chars for c in cm.group()[:-1]):
                    city = cm.group()
            if suffix in _TOWN_SUFFIXES:
                county = last_county[2] if last_county and last_county[0] == start else None
                city = city or (last_county[1] if county else None)
                out.append((city, county, name))
                if county and out[-2:-1] == [(city, county, None)]:
                    out.pop(-2)  # "A7县春华镇": one place, not two
            else:
                out.append((city, name, None))
                last_county = (m.end(), city, name)
        if cities:
            only_city = cities[0] if len(set(cities)) == 1 else None
            out = [(c or (only_city if (k or t) else c), k, t) for c, k, t in out]
            if not out:
                out = [(cities[0], None, None)]
        return out

    def _name_char(self, ch: str) -> bool:
        return _is_cjk(ch) and ch not in self.stop_chars and ch not in "区县镇乡市"

    def _name_before(self, text: str, s: int, suffix: str) -> tuple[str | None, int]:
        # code form: "A2区", "A7县"
        j = s
        while j > 0 and text[j - 1].isdigit():
            j -= 1
        if j > 0 and "A" <= text[j - 1] <= "Z" and (j - 1 == 0 or not text[j - 2].isascii() or not text[j - 2].isalnum()):
            return text[j - 1 : s] + suffix, j - 1
        # CJK form: two or three characters before the suffix
        k = s
        while k > 0 and s - k < 3 and self._name_char(text[k - 1]):
            k -= 1
        if s - k < 2:
            return None, s
        # ambiguous start (the run of characters goes on): prefer two unless that is generic
        if s - k == 3 and k > 0 and self._name_char(text[k - 1]) and (
            text[s - 2 : s] + suffix not in self.generic
        ):
            k = s - 2
        name = text[k:s] + suffix
        if any(name.endswith(g) for g in self.generic) or any(w in name for w in self.not_in_name):
            return None, s
        return name, k

    def _resolve_fallback(self, text: str, lead_units: Sequence[str]) -> JurisdictionResult:
        found = self.extract_places(text)
        if not found:
            return self._no_place(lead_units)
        unit = lead_units[0] if lead_units else None
        labels = list(dict.fromkeys("".join(x for x in f if x) for f in found))
        reasons = [f"属地：按通用地名规则识别 {'、'.join(labels)}（地名库未收录）"]
        counties = list(dict.fromkeys((c, k) for c, k, _ in found if k))
        if len(counties) == 1:
            city, county = counties[0]
            towns = list(dict.fromkeys(t for c, k, t in found if t and k in (county, None)))
            locality = (city or "") + county
            jurisdiction = locality + (towns[0] if len(towns) == 1 else "")
            responsible = (
                self.department_format.format(locality=locality, unit=unit)
                if unit
                else self.government_format.format(locality=locality)
            )
            reasons.append(f"属地管理：属{locality}")
        elif len(counties) > 1:
            cities = {c for c, _ in counties}
            names = "、".join(dict.fromkeys(k for _, k in counties))
            if len(cities) == 1 and None not in cities:
                city = cities.pop()
                jurisdiction = f"{city}（{names}）"
                responsible = (
                    self.department_format.format(locality=city, unit=unit)
                    if unit
                    else self.government_format.format(locality=city)
                )
                reasons.append(f"涉及多个区县（{names}），由上级政府（{city}）或其主管部门回应")
            else:
                jurisdiction = names
                responsible = f"上级政府{unit}" if unit else "上级人民政府"
                reasons.append(f"涉及多个区县（{names}），由上级政府或其主管部门回应")
        else:
            cities_only = [c for c, k, t in found if c and not t]
            towns = list(dict.fromkeys(t for _, _, t in found if t))
            if len(towns) == 1:
                jurisdiction = (found[0][0] or "") + towns[0]
                town = towns[0]
                responsible = unit or (town + "办事处" if town.endswith("街道") else town + "人民政府")
                reasons.append(f"属地管理：属{town}（所属区县待确认）")
            elif cities_only and not towns:
                jurisdiction = cities_only[0]
                responsible = (
                    self.department_format.format(locality=jurisdiction, unit=unit)
                    if unit
                    else self.government_format.format(locality=jurisdiction)
                )
                reasons.append(f"属地管理：仅提及{jurisdiction}")
            else:
                jurisdiction = "、".join(towns)
                responsible = unit or "上级人民政府"
                reasons.append(f"涉及多个镇街（{jurisdiction}），由上级政府或其主管部门回应")
        if unit:
            reasons.append(f"谁主管谁负责：牵头单位为{unit}")
            if len(lead_units) > 1:
                reasons.append(f"另涉及：{'、'.join(lead_units[1:])}，按职责分工配合")
        return JurisdictionResult(jurisdiction, responsible, labels, reasons)
