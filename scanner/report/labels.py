"""Chinese words for the report's codes, shared by every human-facing format."""

from __future__ import annotations

from typing import Any

ENTITY: dict[str, str] = {
    "CN_ID_CARD": "身份证号",
    "CN_MOBILE": "手机号",
    "CN_LICENSE_PLATE": "车牌号",
    "BANK_CARD": "银行卡号",
    "CN_LANDLINE": "固定电话",
    "EMAIL": "电子邮箱",
    "CN_PASSPORT": "护照号",
    "PERSON_NAME": "姓名",
}
SEVERITY: dict[str, str] = {"high": "高", "medium": "中", "low": "低"}
EXPOSURE: dict[str, str] = {"unmasked": "完整暴露", "partial": "脱敏不足"}
STATUS: dict[str, str] = {"scanned": "已检查", "error": "出错", "skipped": "未检查"}
AUDIT: dict[str, str] = {"new": "新增", "persisting": "仍存在", "fixed": "已整改"}


def entity(code: str) -> str:
    return ENTITY.get(code, code)


def location(loc: dict[str, Any] | None) -> str:
    """``第3页``, ``Sheet1!C5``, ``表2 第7行 第3列``, ``第40行`` … for people."""
    if not loc:
        return ""
    parts: list[str] = []
    if loc.get("part"):
        parts.append(str(loc["part"]))
    if loc.get("page") is not None:
        parts.append(f"第{loc['page']}页")
    if loc.get("sheet") is not None:
        parts.append(f"{loc['sheet']}!{loc['cell']}" if loc.get("cell") else str(loc["sheet"]))
    elif loc.get("cell"):
        parts.append(f"单元格{loc['cell']}")
    if loc.get("table") is not None:
        parts.append(f"表{loc['table']}")
    if loc.get("row") is not None and not loc.get("cell"):
        parts.append(f"第{loc['row']}行")
    if loc.get("column") is not None and not loc.get("cell"):
        parts.append(f"第{loc['column']}列")
    if loc.get("line") is not None:
        parts.append(f"第{loc['line']}行")
    return " ".join(parts) or "正文"
