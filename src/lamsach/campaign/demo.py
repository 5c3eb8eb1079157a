"""A realistic demo city (Thanh Hoá, 2022 campaign) and a big generated tree for load tests."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from lamsach.campaign import reports as rp
from lamsach.campaign.campaigns import CampaignFields, create_campaign, grant_exception
from lamsach.campaign.permissions import Role
from lamsach.campaign.templates import definition_of, ensure_builtin_template
from lamsach.campaign.timeutil import local_date, utcnow, vn_datetime
from lamsach.campaign.units import UnitFields, create_unit
from lamsach.campaign.users import create_user, hash_password
from lamsach.storage.models import (
    Campaign,
    CampaignUnit,
    Report,
    ReportValue,
    Unit,
    User,
)

DEMO_PASSWORD = "lamsach2022"
CAMPAIGN_NAME = "Chiến dịch làm sạch mã độc trên không gian mạng năm 2022"
DIRECTIVES = (
    "Công văn số 1298/CATTT-NCSC ngày 23/8/2022 của Cục An toàn thông tin",
    "Công văn số 1858/STTTT-CNTT ngày 07/9/2022 của Sở Thông tin và Truyền thông",
)

# (login suffix, name) of the city's departments.
DEPARTMENTS = (
    ("vanphong", "Văn phòng HĐND và UBND thành phố"),
    ("noivu", "Phòng Nội vụ"),
    ("tuphap", "Phòng Tư pháp"),
    ("taichinh", "Phòng Tài chính - Kế hoạch"),
    ("tnmt", "Phòng Tài nguyên và Môi trường"),
    ("ldtbxh", "Phòng Lao động - Thương binh và Xã hội"),
    ("vhtt", "Phòng Văn hóa và Thông tin"),
    ("gddt", "Phòng Giáo dục và Đào tạo"),
    ("yte", "Phòng Y tế"),
    ("thanhtra", "Thanh tra thành phố"),
    ("kinhte", "Phòng Kinh tế"),
    ("qldt", "Phòng Quản lý đô thị"),
    ("ttvh", "Trung tâm Văn hóa, Thông tin, Thể thao và Du lịch"),
    ("bqlda", "Ban Quản lý dự án đầu tư xây dựng"),
)
WARDS = (
    "Điện Biên", "Lam Sơn", "Ba Đình", "Ngọc Trạo", "Hàm Rồng", "Đông Thọ", "Nam Ngạn",
    "Trường Thi", "Phú Sơn", "Tân Sơn", "Đông Sơn", "Đông Vệ", "Đông Hương", "Đông Hải",
    "Quảng Hưng", "Quảng Thắng", "Quảng Thành", "An Hưng", "Tào Xuyên", "Long Anh", "Đông Cương",
)  # fmt: skip
COMMUNES = (
    "Hoằng Quang", "Hoằng Đại", "Thiệu Dương", "Thiệu Khánh", "Quảng Tâm", "Quảng Cát", "Đông Vinh",
)  # fmt: skip

ASSESSMENTS = (
    "Đơn vị đã phổ biến chiến dịch đến toàn thể cán bộ, công chức; rà soát, cài đặt phần mềm "
    "phòng chống mã độc cho các máy tính và xử lý các máy phát hiện nhiễm mã độc.",
    "Đã triển khai rà quét bằng công cụ miễn phí của chiến dịch; các máy tính nhiễm mã độc đã "
    "được bóc gỡ, một số máy cũ cần thay thế.",
    "Công tác tuyên truyền được thực hiện qua loa truyền thanh, trang thông tin điện tử và "
    "nhóm Zalo của khu phố; người dân hưởng ứng tích cực.",
)
PROPOSALS = (
    "Đề nghị thành phố hỗ trợ bản quyền phần mềm diệt virus cho các máy tính còn thiếu.",
    "Đề nghị tổ chức tập huấn kỹ năng an toàn thông tin cho cán bộ phụ trách CNTT.",
    "",
)
RETURN_COMMENTS = (
    "Số máy tính đã rà quét lớn hơn số máy đã cài phần mềm; đề nghị kiểm tra lại số liệu.",
    "Chưa nêu đánh giá kết quả thực hiện; đề nghị bổ sung.",
    "Số thiết bị kết nối đến địa chỉ độc hại chưa khớp với danh sách Tổ ứng cứu sự cố gửi.",
)


@dataclass
class DemoInfo:
    password: str
    campaign_id: int
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # username, role, unit


def slug(name: str) -> str:
    """ASCII, lower case, no spaces: 'Điện Biên' -> 'dienbien'."""
    decomposed = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


def _figures(rng: random.Random, kind: str) -> dict[str, int]:
    """Plausible, rule-abiding figures for one unit."""
    total = rng.randint(8, 45) if kind in ("ward", "commune") else rng.randint(6, 70)
    antivirus = total - rng.randint(0, 3)
    scanned = max(0, antivirus - rng.randint(0, 2))
    infected = rng.randint(0, max(1, scanned // 6))
    infected = min(infected, scanned)
    cleaned = max(0, infected - rng.choice((0, 0, 0, 1)))
    devices = rng.randint(0, 4)
    informed = rng.randint(25, 160) if kind in ("ward", "commune") else rng.randint(1, 6)
    return {
        "orgs_informed": informed,
        "units_deployed": informed - rng.randint(0, max(0, informed // 8)),
        "computers_total": total,
        "computers_antivirus": max(0, antivirus),
        "computers_scanned": scanned,
        "computers_infected": infected,
        "computers_cleaned": cleaned,
        "devices_malicious": devices,
        "devices_handled": devices - rng.choice((0, 0, 1)) if devices else 0,
        "awareness_activities": rng.randint(1, 12),
        "people_reached": rng.randint(40, 3000),
    }


def create_demo(
    session: Session, *, password: str = DEMO_PASSWORD, now: datetime | None = None
) -> DemoInfo:
    """Build the demo city on an upgraded, empty database. Same data for the same ``now``."""
    rng = random.Random(2022)
    today = local_date(now or utcnow())
    # One hash for every demo login: they share the printed demo password anyway.
    shared_hash = hash_password(password)
    template = ensure_builtin_template(session)
    province = create_unit(
        session,
        None,
        UnitFields("TH", "Tỉnh Thanh Hóa", "province", networks=("10.0.0.0/8",)),
        None,
    )
    city = create_unit(
        session,
        None,
        UnitFields(
            "TH-TPTH",
            "UBND thành phố Thanh Hóa",
            "city",
            contact_person="Văn phòng HĐND và UBND thành phố",
            contact_email="vanphong@thanhhoacity.gov.vn",
            contact_phone="0237 3852 000",
            networks=("10.37.0.0/16",),
        ),
        province,
    )
    units: list[tuple[Unit, str]] = []
    for index, (key, name) in enumerate(DEPARTMENTS):
        unit = create_unit(
            session,
            None,
            UnitFields(
                f"TH-TPTH-{key.upper()}",
                name,
                "department",
                contact_person=f"Cán bộ phụ trách CNTT - {name}",
                contact_email=f"{key}@thanhhoacity.gov.vn",
                contact_phone=f"0237 38{index:02d} {rng.randint(100, 999)}",
                networks=(f"10.37.{index + 1}.0/24",),
            ),
            city,
        )
        units.append((unit, key))
    for index, (prefix, kind, names) in enumerate(
        (("P", "ward", WARDS), ("X", "commune", COMMUNES))
    ):
        for number, name in enumerate(names):
            key = slug(name)
            full = f"{'Phường' if kind == 'ward' else 'Xã'} {name}"
            unit = create_unit(
                session,
                None,
                UnitFields(
                    f"TH-TPTH-{prefix}-{key.upper()}",
                    f"UBND {full[0].lower()}{full[1:]}",
                    kind,
                    contact_person=f"Văn phòng UBND {full}",
                    contact_email=f"{prefix.lower()}{key}@thanhhoacity.gov.vn",
                    contact_phone=f"0237 39{index}{number:02d} {rng.randint(100, 999)}",
                    networks=(f"10.37.{100 + index * 50 + number}.0/24",),
                ),
                city,
            )
            units.append((unit, f"{prefix.lower()}.{key}"))
    info = DemoInfo(password=password, campaign_id=0)

    def login(username: str, role: Role, unit: Unit, full_name: str) -> User:
        user = create_user(
            session, None, username, password, full_name=full_name, role=role, unit=unit,
            password_hash=shared_hash,
        )  # fmt: skip
        info.logins.append((username, role.value, unit.name))
        return user

    login("admin", Role.ADMINISTRATOR, province, "Quản trị hệ thống")
    coordinator = login(
        "dieuphoi", Role.COORDINATOR, city,
        "Tổ ứng cứu sự cố an toàn thông tin mạng (Phòng Văn hóa và Thông tin)",
    )  # fmt: skip
    login("lanhdao", Role.VIEWER, city, "Lãnh đạo UBND thành phố")
    city_officer = login("thanhpho", Role.OFFICER, city, "Cán bộ tổng hợp - UBND thành phố")
    officers = {
        unit.id: login(key, Role.OFFICER, unit, f"Cán bộ phụ trách CNTT - {unit.name}")
        for unit, key in units
    }
    campaign = create_campaign(
        session,
        None,
        CampaignFields(
            name=CAMPAIGN_NAME,
            start_date=date(2022, 9, 7),
            deadline=date(2022, 9, 30),
            # Kept open so the demo can be filled in; the deadline still makes reports late.
            lock_date=max(date(2022, 10, 31), today + timedelta(days=90)),
            directive_refs=DIRECTIVES,
            description="Triển khai theo Công văn của UBND thành phố gửi các phòng, ban, đơn vị "
            "và UBND các phường, xã; báo cáo kết quả theo Phụ lục 01 trước ngày 30/9/2022.",
        ),
        owner_unit=city,
        template=template,
    )
    info.campaign_id = campaign.id
    definition = definition_of(template)
    order = [unit for unit, _ in units]
    rng.shuffle(order)
    # 44 units: approved, on time, late, returned, draft; the rest not started.
    plan = ["approved"] * 11 + ["on_time"] * 10 + ["late"] * 7 + ["returned"] * 4 + ["draft"] * 5
    for unit, step in zip(order, plan, strict=False):
        officer = officers[unit.id]
        day = rng.randint(15, 29) if step != "late" else rng.randint(1, 14)
        month = 9 if step != "late" else 10
        moment = vn_datetime(2022, month, day, rng.randint(8, 16), rng.randint(0, 59))
        report = rp.open_report(session, officer, campaign, unit, now=moment - timedelta(days=2))
        values: dict[str, object] = dict(_figures(rng, unit.kind))
        values["assessment"] = rng.choice(ASSESSMENTS)
        values["proposals"] = rng.choice(PROPOSALS)
        if step == "draft":
            kept = [r.code for r in definition.rows][: rng.randint(3, 8)]
            values = {k: v for k, v in values.items() if k in kept}
        rp.save_values(session, officer, report, values, now=moment - timedelta(days=1))
        if step == "draft":
            continue
        rp.submit_report(session, officer, report, now=moment)
        if step == "approved":
            rp.approve_report(session, coordinator, report, now=moment + timedelta(days=2))
        elif step == "returned":
            comment = rng.choice(RETURN_COMMENTS)
            rp.return_report(session, coordinator, report, comment, now=moment + timedelta(days=1))
    late_unit = next(u for u, key in units if key == "x.dongvinh")
    grant_exception(
        session, coordinator, campaign, late_unit,
        campaign.lock_date + timedelta(days=30),
        "Xã mới sáp nhập, cần thêm thời gian tổng hợp số liệu.",
    )  # fmt: skip
    # Lists print their first lines: show one ward, one commune and the focal-point office early.
    featured = ("p.dienbien", "x.hoangquang", "vhtt")
    info.logins = info.logins[:4] + sorted(
        info.logins[4:], key=lambda item: featured.index(item[0]) if item[0] in featured else 9
    )
    # The city's own report starts from what its units have sent so far.
    rp.open_report(session, city_officer, campaign, city, now=vn_datetime(2022, 10, 14, 10))
    session.flush()
    return info


@dataclass
class LoadInfo:
    root_id: int
    campaign_id: int
    password: str
    coordinator: str
    officers: list[tuple[str, int]]  # username, unit id
    units: int


def _next_id(session: Session, model: type[Unit] | type[Report]) -> int:
    return int(session.scalar(select(func.coalesce(func.max(model.id), 0))) or 0) + 1


def _fix_sequence(session: Session, table: str) -> None:
    """After inserting explicit ids, PostgreSQL's sequence must move past them."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT MAX(id) FROM {table}))"
            )
        )


def create_load_tree(
    session: Session,
    *,
    units: int = 10_000,
    officers: int = 200,
    password: str = DEMO_PASSWORD,
    seed: int = 7,
    reported_share: float = 0.4,
    prefix: str = "LT",
) -> LoadInfo:
    """A province of ``units`` units (districts, then wards, communes, schools, agencies).

    A campaign over all of them with ``reported_share`` of the reports already sent, a
    coordinator and ``officers`` officers of units that have not reported yet. Bulk inserts.
    """
    rng = random.Random(seed)
    template = ensure_builtin_template(session)
    next_id = _next_id(session, Unit)
    districts = max(1, min(30, units // 300))
    rows: list[dict[str, object]] = []
    root_id = next_id
    rows.append(dict(id=root_id, code=prefix, name=f"Tỉnh thử tải {prefix}", kind="province",
                     parent_id=None, path=f"/{root_id}/", depth=0, networks=[]))  # fmt: skip
    district_rows = []
    for d in range(districts):
        uid = root_id + 1 + d
        row = dict(id=uid, code=f"{prefix}-D{d:03d}", name=f"Huyện {d + 1:03d}", kind="city",
                   parent_id=root_id, path=f"/{root_id}/{uid}/", depth=1, networks=[])  # fmt: skip
        rows.append(row)
        district_rows.append(row)
    kinds = ("ward", "commune", "school", "agency")
    uid = root_id + 1 + districts
    while len(rows) < units:
        parent = district_rows[(uid - root_id) % districts]
        kind = kinds[rng.randrange(len(kinds))]
        rows.append(dict(id=uid, code=f"{prefix}-U{uid:06d}", name=f"Đơn vị {kind} {uid}",
                         kind=kind, parent_id=parent["id"], path=f"{parent['path']}{uid}/",
                         depth=2, networks=[]))  # fmt: skip
        uid += 1
    now = utcnow()
    for row in rows:
        row.update(contact_person="", contact_email="", contact_phone="", created_at=now)
    session.execute(insert(Unit), rows)
    _fix_sequence(session, "units")
    root = session.get(Unit, root_id)
    assert root is not None
    campaign = create_campaign(
        session,
        None,
        CampaignFields(
            name=f"Chiến dịch thử tải {prefix}",
            start_date=local_date(now) - timedelta(days=20),
            deadline=local_date(now) + timedelta(days=10),
            lock_date=local_date(now) + timedelta(days=60),
        ),
        owner_unit=root,
        template=template,
    )
    leaves = [r for r in rows if r["depth"] == 2]
    rng.shuffle(leaves)
    reported = leaves[: int(len(leaves) * reported_share)]
    report_id = _next_id(session, Report)
    report_rows, value_rows = [], []
    for row in reported:
        moment = now - timedelta(hours=rng.randint(1, 400))
        report_rows.append(dict(id=report_id, campaign_id=campaign.id, unit_id=row["id"],
                                status=rng.choice(("submitted", "approved")),
                                first_submitted_at=moment, submitted_at=moment, on_time=True,
                                return_comment="", created_at=moment, updated_at=moment,
                                revision=1))  # fmt: skip
        for code, number in _figures(rng, str(row["kind"])).items():
            value_rows.append(dict(report_id=report_id, row_code=code, number=number, text=None,
                                   note=""))  # fmt: skip
        report_id += 1
    if report_rows:
        session.execute(insert(Report), report_rows)
        session.execute(insert(ReportValue), value_rows)
        _fix_sequence(session, "reports")
    shared_hash = hash_password(password)
    coordinator = f"{prefix.lower()}.dieuphoi"
    create_user(session, None, coordinator, password, role=Role.COORDINATOR, unit=root,
                password_hash=shared_hash)  # fmt: skip
    free = leaves[len(reported) :]
    officer_logins: list[tuple[str, int]] = []
    for index, row in enumerate(free[:officers]):
        unit = session.get(Unit, row["id"])
        assert unit is not None
        name = f"{prefix.lower()}.canbo{index + 1:04d}"
        create_user(session, None, name, password, role=Role.OFFICER, unit=unit,
                    password_hash=shared_hash)  # fmt: skip
        officer_logins.append((name, unit.id))
    session.flush()
    # Fresh planner statistics: without them PostgreSQL plans the 10,000-unit joins as if empty.
    session.execute(text("ANALYZE"))
    count = session.scalar(
        select(func.count())
        .select_from(CampaignUnit)
        .where(CampaignUnit.campaign_id == campaign.id)
    )
    return LoadInfo(
        root_id=root_id,
        campaign_id=campaign.id,
        password=password,
        coordinator=coordinator,
        officers=officer_logins,
        units=int(count or 0),
    )


def demo_campaign(session: Session) -> Campaign | None:
    return session.scalar(select(Campaign).where(Campaign.name == CAMPAIGN_NAME))
