"""Write the shipped 舆情快报 template, config/defaults/brief_template.docx (run once after editing
this script; localities edit their own copy of the .docx in Word instead).

The template holds the red header of a 快报 and the placeholders {{编号}}, {{生成时间}} and
{{标题}}; ledger.reports.brief_docx fills them in and adds the seven parts after them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor

OUT = Path(__file__).resolve().parent.parent / "config" / "defaults" / "brief_template.docx"
RED = RGBColor(0xC0, 0x00, 0x00)


def main(out: Path = OUT) -> Path:
    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = "SimSun"
    normal.font.size = Pt(12)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    for name in ("Heading 1", "Title"):
        style = doc.styles[name]
        style.font.name = "SimHei"
        style.element.rPr.rFonts.set(qn("w:eastAsia"), "黑体")
    head = doc.add_paragraph()
    head.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = head.add_run("舆 情 快 报")
    run.bold = True
    run.font.size = Pt(30)
    run.font.color.rgb = RED
    line = doc.add_paragraph()
    line.alignment = WD_ALIGN_PARAGRAPH.CENTER
    line.add_run("{{编号}}　　　　　　　　　　　　{{生成时间}}")
    rule = doc.add_paragraph()
    rule.alignment = WD_ALIGN_PARAGRAPH.CENTER
    r = rule.add_run("━" * 24)
    r.font.color.rgb = RED
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    t = title.add_run("{{标题}}")
    t.bold = True
    t.font.size = Pt(18)
    doc.save(str(out))
    return out


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
