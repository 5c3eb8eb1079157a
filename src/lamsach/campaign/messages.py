"""Vietnamese and English texts for the domain's message ids (the web layer may use gettext)."""

from __future__ import annotations

from typing import Any

from lamsach.campaign.errors import DomainError, ImportIssue, Issue

# message id -> (Vietnamese, English); {placeholders} come from the issue's params.
MESSAGES: dict[str, tuple[str, str]] = {
    "field.required": ("Bắt buộc nhập.", "Required."),
    "field.too_long": ("Quá dài (tối đa {max} ký tự).", "Too long (at most {max} characters)."),
    "field.bad_email": ("Địa chỉ email không hợp lệ: {value}.", "Not a valid email: {value}."),
    "field.bad_phone": ("Số điện thoại không hợp lệ: {value}.", "Not a valid phone: {value}."),
    "value.required": ("Chưa nhập số liệu.", "No value entered."),
    "value.not_integer": ("Phải là số nguyên: {value}.", "Must be a whole number: {value}."),
    "value.negative": ("Không được là số âm.", "Must not be negative."),
    "value.too_large": ("Số quá lớn (tối đa {max}).", "Too large (at most {max})."),
    "value.unknown_row": ("Không có dòng này trong mẫu báo cáo.", "No such row in the form."),
    "rule.le": (
        "Phải nhỏ hơn hoặc bằng “{other_label_vi}” ({other_value}).",
        "Must be at most “{other_label_en}” ({other_value}).",
    ),
    "rule.lt": (
        "Phải nhỏ hơn “{other_label_vi}” ({other_value}).",
        "Must be less than “{other_label_en}” ({other_value}).",
    ),
    "rule.ge": (
        "Phải lớn hơn hoặc bằng “{other_label_vi}” ({other_value}).",
        "Must be at least “{other_label_en}” ({other_value}).",
    ),
    "rule.gt": (
        "Phải lớn hơn “{other_label_vi}” ({other_value}).",
        "Must be greater than “{other_label_en}” ({other_value}).",
    ),
    "rule.eq": (
        "Phải bằng “{other_label_vi}” ({other_value}).",
        "Must equal “{other_label_en}” ({other_value}).",
    ),
    "comment.required": ("Cần ghi lý do trả lại.", "Give the reason for returning it."),
    "permission.denied": ("Bạn không có quyền thực hiện thao tác này.", "You may not do this."),
    "report.bad_state": (
        "Không thể thực hiện với báo cáo ở trạng thái hiện tại ({status}).",
        "Not possible for a report in its current state ({status}).",
    ),
    "report.locked": (
        "Đã quá ngày khóa số liệu ({lock_date}); liên hệ đơn vị cấp trên để được gia hạn.",
        "Past the lock date ({lock_date}); ask the level above for an extension.",
    ),
    "report.not_participating": (
        "Đơn vị không tham gia chiến dịch này.",
        "The unit does not take part in this campaign.",
    ),
    "report.changed": (
        "Báo cáo vừa được người khác thay đổi; tải lại trang.",
        "Someone else changed the report; reload the page.",
    ),
    "report.not_found": ("Không tìm thấy báo cáo.", "Report not found."),
    "unit.not_found": ("Không tìm thấy đơn vị.", "Unit not found."),
    "unit.bad_code": ("Mã đơn vị không hợp lệ: {value}.", "Not a valid unit code: {value}."),
    "unit.bad_kind": ("Loại đơn vị không hợp lệ: {value}.", "Not a valid unit kind: {value}."),
    "unit.code_taken": ("Mã đơn vị {value} đã có.", "Unit code {value} is taken."),
    "unit.bad_network": ("Dải địa chỉ IP không hợp lệ: {value}.", "Not a valid network: {value}."),
    "unit.bad_parent": ("Không có đơn vị cấp trên mã {value}.", "No parent unit coded {value}."),
    "unit.cycle": (
        "Không thể đặt đơn vị dưới chính nó ({value}).",
        "A unit cannot be placed under itself ({value}).",
    ),
    "unit.duplicate_code": (
        "Mã {value} lặp lại ở dòng {first_row}.",
        "Code {value} repeats row {first_row}.",
    ),
    "unit.has_children": ("Đơn vị còn đơn vị trực thuộc.", "The unit still has units under it."),
    "unit.in_use": ("Đơn vị đang được sử dụng.", "The unit is in use."),
    "user.not_found": ("Không tìm thấy người dùng.", "User not found."),
    "user.bad_username": ("Tên đăng nhập không hợp lệ: {value}.", "Not a valid login: {value}."),
    "user.username_taken": ("Tên đăng nhập {value} đã có.", "Login {value} is taken."),
    "user.bad_locale": ("Ngôn ngữ không hợp lệ.", "Not a valid language."),
    "user.role_needs_unit": ("Vai trò cần một đơn vị.", "A role needs a unit."),
    "password.too_short": (
        "Mật khẩu cần ít nhất {min} ký tự.",
        "The password needs at least {min} characters.",
    ),
    "role.not_found": ("Không tìm thấy vai trò.", "Role not found."),
    "campaign.not_found": ("Không tìm thấy chiến dịch.", "Campaign not found."),
    "campaign.bad_dates": (
        "Cần: ngày bắt đầu ≤ hạn báo cáo ≤ ngày khóa số liệu.",
        "Needs start date ≤ deadline ≤ lock date.",
    ),
    "campaign.has_reports": (
        "Chiến dịch đã có báo cáo nên không đổi được mẫu báo cáo.",
        "The campaign already has reports: its template cannot change.",
    ),
    "campaign.unit_outside": (
        "Đơn vị {value} không thuộc đơn vị chủ trì.",
        "Unit {value} is not under the campaign's unit.",
    ),
    "exception.before_lock": (
        "Ngày gia hạn phải sau ngày khóa chung ({lock_date}).",
        "The extension must be after the campaign's lock date ({lock_date}).",
    ),
    "template.not_found": ("Không tìm thấy mẫu báo cáo.", "Template not found."),
    "template.frozen": (
        "Mẫu {code} phiên bản {version} đã được dùng; hãy sao chép thành phiên bản mới.",
        "Template {code} version {version} is in use; copy it to a new version.",
    ),
    "template.no_sections": ("Mẫu chưa có phần nào.", "The template has no sections."),
    "template.no_rows": ("Mẫu chưa có dòng nào.", "The template has no rows."),
    "template.bad_section": ("Phần không hợp lệ.", "Not a valid section."),
    "template.bad_row": ("Dòng không hợp lệ.", "Not a valid row."),
    "template.bad_row_code": ("Mã dòng không hợp lệ: {value}.", "Not a valid row code: {value}."),
    "template.duplicate_row": ("Mã dòng {value} bị trùng.", "Row code {value} repeats."),
    "template.bad_type": ("Kiểu dòng không hợp lệ: {value}.", "Not a valid row type: {value}."),
    "template.bad_aggregate": ("Cách tổng hợp không hợp lệ: {value}.", "Bad aggregation: {value}."),
    "template.no_label": ("Dòng chưa có tên.", "The row has no label."),
    "template.bad_rule": ("Quy tắc không hợp lệ.", "Not a valid rule."),
    "template.bad_operator": ("Phép so sánh không hợp lệ: {value}.", "Bad comparison: {value}."),
    "template.rule_row": (
        "Quy tắc dùng dòng {value} không phải dòng số liệu.",
        "The rule uses {value}, which is not a count row.",
    ),
    "import.missing_column": ("Thiếu cột {value}.", "Column {value} is missing."),
    "import.unreadable": ("Không đọc được tệp: {value}.", "Cannot read the file: {value}."),
    "import.too_many_rows": ("Tệp quá nhiều dòng (tối đa {max}).", "Too many rows (max {max})."),
    "import.empty": ("Tệp không có dữ liệu.", "The file holds no rows."),
    "validation.failed": ("Có {count} lỗi cần sửa.", "{count} problems to fix."),
    "import.failed": ("Tệp có {count} lỗi; chưa nhập gì.", "{count} errors; nothing imported."),
}


def message(code: str, params: dict[str, Any] | None = None, locale: str = "vi") -> str:
    """The text of a message id in ``locale`` ("vi" or "en"); unknown ids come back as is."""
    pair = MESSAGES.get(code)
    if pair is None:
        return code
    text = pair[1] if locale == "en" else pair[0]
    try:
        return text.format(**(params or {}))
    except (KeyError, IndexError):
        return text


def issue_message(issue: Issue | ImportIssue, locale: str = "vi") -> str:
    return message(issue.code, issue.params, locale)


def error_message(error: DomainError, locale: str = "vi") -> str:
    return message(error.code, error.params, locale)
