"""The message catalog of the web pages: zh-CN first, English second.

Owns: `CATALOG` (key -> (zh-CN, English)), the language choice (``?lang=`` over the
``cg_lang`` cookie over zh-CN) and the `Translator` that templates call as ``t('key')``.
A missing key raises, so a typo fails the page test rather than showing a raw key.
"""

from __future__ import annotations

from collectguard.findings import SEVERITY_LABELS

__all__ = ["CATALOG", "DEFAULT_LANG", "LANGS", "LANG_COOKIE", "Translator", "pick_lang"]

DEFAULT_LANG = "zh-CN"
LANGS: tuple[str, ...] = ("zh-CN", "en")
LANG_COOKIE = "cg_lang"


def pick_lang(query: str | None, cookie: str | None) -> str:
    for candidate in (query, cookie):
        if candidate in LANGS:
            return candidate
    return DEFAULT_LANG


class Translator:
    """``t('key', n=3)`` in templates: the text in the page's language, formatted."""

    def __init__(self, lang: str) -> None:
        self.index = 1 if lang == "en" else 0

    def __call__(self, key: str, **values: object) -> str:
        text = CATALOG[key][self.index]
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in CATALOG


CATALOG: dict[str, tuple[str, str]] = {
    "app.name": ("催收短信体检", "Collection message check"),
    "nav.skip": ("跳到正文", "Skip to content"),
    "nav.label": ("主导航", "Main navigation"),
    "nav.check": ("查短信", "Check a message"),
    "nav.backup": ("导入短信备份", "Import a backup"),
    "nav.portal": ("我的账单", "My bills"),
    "nav.prefs": ("联系偏好", "Contact preferences"),
    "nav.complaints": ("投诉与反馈", "Complaints"),
    "nav.staff": ("合规工作台", "Compliance desk"),
    "nav.locker": ("我的证据柜", "My evidence locker"),
    "nav.audits": ("审计报告", "Audit reports"),
    "nav.login": ("登录", "Sign in"),
    "nav.logout": ("退出", "Sign out"),
    "footer.disclaimer": (
        "本工具依据公开的规则给出参考意见，不构成法律意见。只拨打官方渠道的电话，不要拨打短信里的号码。",
        "This tool gives guidance from public rules; it is not legal advice. Only call official "
        "numbers, never a number from the message.",
    ),
    "form.optional": ("（选填）", "(optional)"),
    "form.save": ("保存", "Save"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    # -- checker
    "check.title": (
        "这条催收短信可信吗？合法吗？",
        "Is this collection message real? Is it lawful?",
    ),
    "check.lead": (
        "粘贴收到的短信，我们会告诉您：是哪家机构发的、是不是诈骗、有没有违规，以及下一步该找谁。"
        "内容只用于本次检查，不会保存。",
        "Paste the message you received: we tell you which organisation it claims to be from, "
        "whether it is a scam, which rules it breaks, and whom to contact next. Nothing is stored.",
    ),
    "check.text": ("短信内容", "Message text"),
    "check.text_placeholder": (
        "例如：【某某金融】您的借款已逾期……",
        "e.g. [XX Finance] Your loan is overdue…",
    ),
    "check.sender": ("发送号码或名称", "Sender number or name"),
    "check.received_at": ("收到时间", "Received at"),
    "check.submit": ("开始检查", "Check"),
    "check.how_title": ("怎么判断", "How we judge"),
    "check.how_1": (
        "核对短信自称的机构与其官方号码、域名，短信里的号码和链接从不作为证明。",
        "We compare the claimed organisation with its official numbers and domains; numbers and "
        "links inside a message are never proof.",
    ),
    "check.how_2": (
        "逐条对照法律、国家标准和行业自律规则，标出违规原文并注明条款。",
        "We check laws, national standards and self-regulatory rules, highlight the offending "
        "words and cite the clause.",
    ),
    "check.how_3": (
        "给出官方投诉和求助渠道：机构客服、12378、110、12321 等。",
        "We name official channels: the lender's service line, 12378, 110, 12321 and more.",
    ),
    "check.error.empty": ("请粘贴短信内容。", "Please paste the message text."),
    "check.error.too_long": (
        "内容太长了，请一次粘贴一条短信（最多 20,000 字）。",
        "Too long: paste one message at a time (at most 20,000 characters).",
    ),
    "check.error.bad_time": (
        "收到时间格式不对，请用页面上的日期时间选择器。",
        "The receive time is not valid; please use the date-time picker.",
    ),
    "check.error.bad_input": (
        "无法检查这条内容，请检查后重试。",
        "This input could not be checked; please review it and try again.",
    ),
    # -- verdict
    "verdict.title": ("检查结果", "Verdict"),
    "verdict.from_lender_message": (
        "这是本机构发给您的一条催收信息，下面是它的合规检查。",
        "This is a collection message we sent you, with its compliance check.",
    ),
    "verdict.platform": ("自称机构", "Claims to be from"),
    "verdict.no_platform": ("短信没有署名任何机构", "The message names no organisation"),
    "verdict.is_collection": ("是否催收信息", "Collection message"),
    "verdict.scam_score": ("诈骗可能性", "Scam likelihood"),
    "verdict.reasons": ("判断依据", "Why"),
    "verdict.original": ("原文（违规词句已标出）", "Original text (offending words highlighted)"),
    "verdict.violations": ("违规之处", "Violations"),
    "verdict.no_violations": ("未发现违规。", "No violations found."),
    "verdict.evidence": ("原文", "Words"),
    "verdict.citation": ("依据条款", "Clause"),
    "verdict.next": ("下一步怎么做", "What to do next"),
    "verdict.again": ("再查一条", "Check another"),
    "auth.genuine": ("与自称机构一致", "Consistent with the claimed sender"),
    "auth.genuine.explain": (
        "短信特征与该机构的官方渠道一致。真实的催收也可能违规，请看下面的违规项。",
        "It matches the organisation's official channels. A real collector can still break "
        "rules: see the violations below.",
    ),
    "auth.suspicious": ("可疑", "Suspicious"),
    "auth.suspicious.explain": (
        "有互相矛盾的信号。请通过机构官方App或官网核实，不要点链接、不要拨打短信里的号码。",
        "Signals conflict. Verify through the organisation's official app or website; do not "
        "open links or call numbers from the message.",
    ),
    "auth.scam": ("疑似诈骗", "Likely a scam"),
    "auth.scam.explain": (
        "这条短信很可能是冒充机构的诈骗。不要转账、不要点链接、不要提供验证码。",
        "This message is most likely a fraudster posing as an organisation. Do not pay, open "
        "links or share codes.",
    ),
    "auth.unknown": ("无法判断真伪", "Cannot tell"),
    "auth.unknown.explain": (
        "信息太少，无法判断真伪。请通过官方渠道核实。",
        "Too little to judge. Verify through official channels.",
    ),
    "finding.scam_cue": ("诈骗迹象", "Scam sign"),
    "finding.genuine_cue": ("可信迹象", "Genuine sign"),
    **{f"severity.{k}": v for k, v in SEVERITY_LABELS.items()},
    "advice.call": ("拨打", "Call"),
    "advice.medium": (
        "此号码可信度中等，请先在官方网站或官方App核实",
        "Medium confidence: confirm this number on the official website or app first",
    ),
    # -- backup upload
    "backup.title": ("导入手机短信备份", "Import a phone message backup"),
    "backup.lead": (
        "上传手机导出的短信备份，按机构整理成案件，显示每天的联系次数和违规情况，"
        "并可下载投诉信（PDF、Word）和证据包。导入的数据放在您的证据柜里："
        "不保存的话 2 小时后自动删除，也可以随时一键删除。",
        "Upload a message backup from your phone: we group it into cases per lender with daily "
        "contact counts and violations, and you can download letters (PDF, Word) and the "
        "evidence bundle. The data goes into your evidence locker: deleted after 2 hours "
        "unless you keep it, and you can delete it at any time.",
    ),
    "backup.into_locker": (
        "将导入到您已打开的证据柜（已有的短信不会重复添加）。",
        "This goes into your open locker (messages already there are not added twice).",
    ),
    "backup.bundle_hint": (
        "只想要证据包、不保存任何数据？点“下载证据包”：取违规最多的机构，文件处理完立即删除。",
        "Only want the bundle and nothing kept? Use the bundle button: it takes the lender with "
        "the most violations and deletes the file as soon as it is processed.",
    ),
    "backup.file": ("备份文件", "Backup file"),
    "backup.formats": (
        "支持：安卓“SMS Backup & Restore”XML、CSV、JSON Lines、纯文本、"
        "iPhone 的 sms.db；最大 20 MB。",
        'Accepted: Android "SMS Backup & Restore" XML, CSV, JSON Lines, plain text, iPhone '
        "sms.db; at most 20 MB.",
    ),
    "backup.analyse": ("按机构分析", "Analyse by lender"),
    "backup.bundle": ("下载证据包（ZIP）", "Download evidence bundle (ZIP)"),
    "backup.error.type": (
        "无法识别这个文件，请上传列出的格式之一。",
        "This file type is not accepted; upload one of the listed formats.",
    ),
    "backup.error.empty": ("文件是空的。", "The file is empty."),
    "backup.error.broken": (
        "文件已损坏或格式不对，无法读取。",
        "The file is damaged or not in the expected format.",
    ),
    "backup.error.no_cases": (
        "备份中没有找到催收信息，无法生成证据包。",
        "No collection messages were found, so there is no bundle to make.",
    ),
    "cases.items": ("记录", "Records"),
    "cases.counts": ("短信 {messages} 条，来电 {calls} 次", "{messages} messages, {calls} calls"),
    "cases.period": ("时间范围", "Period"),
    "cases.night": ("夜间（22:00–08:00）联系", "Contacts at night (22:00–08:00)"),
    "cases.worst": ("最严重的违规", "Worst violation"),
    "cases.timeline": ("每天联系次数", "Contacts per day"),
    "cases.timeline_caption": (
        "蓝色为短信，橙色为来电。",
        "Blue: messages; orange: calls.",
    ),
    "cases.day": ("日期", "Day"),
    "cases.contacts": ("联系次数", "Contacts"),
    "cases.findings": ("跨多条信息的违规", "Violations across messages"),
    "cases.violations": ("违规信息", "Messages with violations"),
    # -- evidence locker
    "locker.title": ("我的证据柜", "My evidence locker"),
    "locker.lead_temporary": (
        "这些数据临时保存，将于 {until} 自动删除。"
        "想以后再来查看或继续补充，请保存证据柜并记下钥匙。",
        "This is kept temporarily and deleted automatically at {until}. To come back later or "
        "add more, keep the locker and write down its key.",
    ),
    "locker.lead_kept": (
        "证据柜已保存（钥匙尾号 {hint}）。用钥匙可以在任何设备上打开，本设备会记住 90 天。",
        "Your locker is kept (key ending {hint}). Open it on any device with its key; this "
        "device remembers it for 90 days.",
    ),
    "locker.keep": ("保存证据柜（生成钥匙）", "Keep this locker (get a key)"),
    "locker.new_key": ("换一把新钥匙", "Replace the key"),
    "locker.new_key_confirm": (
        "旧钥匙将失效，确定吗？",
        "The old key will stop working. Continue?",
    ),
    "locker.close": ("在本设备上退出", "Forget on this device"),
    "locker.close_confirm": (
        "未保存的临时数据会被删除，确定退出吗？",
        "Unsaved temporary data will be deleted. Continue?",
    ),
    "locker.import_more": ("导入更多短信", "Import more messages"),
    "locker.imported": (
        "本次导入：新增 {new} 条，已有 {duplicate} 条，无法读取 {rejected} 条。",
        "This import: {new} new, {duplicate} already here, {rejected} unreadable.",
    ),
    "locker.summary": ("共 {cases} 个案件（按机构）。", "{cases} cases (one per lender)."),
    "locker.chain": ("证据链：{n} 条账本记录，链头哈希", "Evidence chain: {n} entries, head hash"),
    "locker.verify": ("核验证据链", "Verify the evidence chain"),
    "locker.empty": (
        "证据柜里还没有催收信息。可以导入短信备份，或在检查结果页保存短信。",
        "No collection messages in this locker yet. Import a backup, or keep a message from a "
        "verdict page.",
    ),
    "locker.delete_title": ("删除我的数据", "Delete my data"),
    "locker.delete_lead": (
        "永久删除这个证据柜里的全部短信、来电记录、附件和证据链，无法恢复。已下载的文件不受影响。",
        "Permanently deletes every message, call record, attachment and the evidence chain in "
        "this locker. This cannot be undone. Files you downloaded are not affected.",
    ),
    "locker.delete_confirm": ("我确认永久删除", "I understand this deletes everything"),
    "locker.delete": ("永久删除", "Delete permanently"),
    "locker.delete_question": (
        "确定永久删除证据柜里的全部数据吗？",
        "Delete everything in the locker for good?",
    ),
    "locker.deleted": (
        "证据柜及其中的数据已全部删除。",
        "The locker and everything in it were deleted.",
    ),
    "locker.closed": ("已在本设备上退出证据柜。", "The locker is closed on this device."),
    "locker.open_title": ("打开我的证据柜", "Open my evidence locker"),
    "locker.open_lead": (
        "证据柜保存您导入的催收短信，不需要注册，也不需要手机号。输入保存时拿到的钥匙即可打开。",
        "The locker keeps the collection messages you imported: no sign-up, no phone number. "
        "Enter the key you got when you kept it.",
    ),
    "locker.key": ("证据柜钥匙", "Locker key"),
    "locker.key_format": (
        "24 位字母和数字，带不带横线都可以，不区分大小写。",
        "24 letters and digits, with or without dashes, in any case.",
    ),
    "locker.remember": (
        "在这台设备上记住（公用电脑请不要勾选）",
        "Remember on this device (not on a shared computer)",
    ),
    "locker.open": ("打开", "Open"),
    "locker.no_locker": (
        "还没有证据柜？导入短信备份，或在检查结果页点“保存到我的证据柜”，就会自动创建。",
        'No locker yet? Importing a backup, or "Keep in my evidence locker" on a verdict page, '
        "creates one.",
    ),
    "locker.error.key": ("钥匙不正确，或证据柜已被删除。", "Wrong key, or the locker was deleted."),
    "locker.key_title": ("请记下您的证据柜钥匙", "Write down your locker key"),
    "locker.key_lead": (
        "这把钥匙只显示这一次。我们不保存钥匙本身，丢失后无法找回。请抄写下来或截图保存在安全的地方，"
        "不要发给任何人。",
        "This key is shown only now. We do not keep the key itself and cannot recover it. "
        "Write it down or keep a screenshot somewhere safe, and never send it to anyone.",
    ),
    "locker.key_done": ("我已记下，返回证据柜", "I have written it down: back to the locker"),
    "locker.verify_title": ("证据链核验", "Evidence chain check"),
    "locker.verify_ok": (
        "证据链完整：{entries} 条账本记录，{items} 项证据都与记录一致。",
        "The evidence chain is intact: {entries} ledger entries; all {items} items match them.",
    ),
    "locker.verify_bad": (
        "证据链核验失败，发现 {n} 处问题：",
        "The evidence chain does not verify: {n} problem(s):",
    ),
    "locker.back": ("返回证据柜", "Back to the locker"),
    # -- letters
    "letters.title": ("投诉信和报案材料", "Letters"),
    "letters.lead": (
        "根据这个案件自动生成，引用违反的规则，并列出每条证据的哈希。下载后请补全【待填写】处再寄出或提交。",
        "Generated from this case: they cite the rules broken and list each item with its hash. "
        "Fill in the [FILL IN] blanks before you send them.",
    ),
    "letters.recommended": ("推荐", "Recommended"),
    "letters.more": ("其他信函", "More letters"),
    "letters.english": ("英文版", "English version"),
    "letters.bundle": ("下载证据包（ZIP）", "Download the evidence bundle (ZIP)"),
    "letters.bundle_hint": (
        "证据包含原文、时间线、报告、信函和哈希链，任何人不用本系统也能核验。",
        "The bundle holds the originals, timeline, report, letters and the hash chain; anyone "
        "can verify it without this app.",
    ),
    "letters.kind": ("信函", "Letter"),
    "letters.lang": ("语言", "Language"),
    "letters.lang_zh": ("中文", "Chinese"),
    "letters.lang_en": ("英文", "English"),
    "letters.download_pdf": ("下载 PDF", "Download PDF"),
    "letters.download_docx": ("下载 Word", "Download Word"),
    "letters.verdict_lead": (
        "把这条短信作为证据，生成投诉信、报警材料或举报单（PDF 或 Word）。",
        "Use this message as evidence in a complaint, police report or spam report (PDF or Word).",
    ),
    "letters.save": ("保存到我的证据柜", "Keep in my evidence locker"),
    "letters.save_hint": (
        "保存后可以继续添加短信，系统按机构整理成案件。",
        "Kept messages are grouped into cases per lender; you can add more later.",
    ),
    "letter_hint.lender_complaint": (
        "寄给放贷机构的投诉部门，要求停止违规催收并书面答复。",
        "To the lender's complaints desk: stop the unlawful collection and answer in writing.",
    ),
    "letter_hint.regulator_complaint": (
        "向国家金融监督管理总局（12378）或当地监管局投诉。",
        "To the financial regulator (hotline 12378) or its local office.",
    ),
    "letter_hint.police_report": (
        "报警时带上：诈骗或威胁恐吓的事实和证据清单（110 / 96110）。",
        "Take it to the police: the facts and evidence of fraud or threats (110 / 96110).",
    ),
    "letter_hint.spam_12321": (
        "向 12321 举报垃圾短信和骚扰号码。",
        "Report spam messages and harassing numbers to 12321.",
    ),
    "letter_hint.pboc_objection": (
        "信用报告有误时，向人民银行征信中心提出异议。",
        "If your credit report is wrong: an objection to the PBOC Credit Reference Center.",
    ),
    "letter_hint.us_debt_validation": (
        "要求催收方核实债务（FDCPA §809）。",
        "Ask the collector to validate the debt (FDCPA §809).",
    ),
    "letter_hint.us_cease_communication": (
        "书面要求催收方停止联系（FDCPA §805(c)）。",
        "Tell the collector in writing to stop contacting you (FDCPA §805(c)).",
    ),
    "letter_hint.cfpb_narrative": (
        "向美国消费者金融保护局（CFPB）投诉时使用的陈述。",
        "The narrative for a complaint to the CFPB.",
    ),
    "letter_hint.us_fraud_report": (
        "冒充催收方的诈骗：向美国联邦贸易委员会（ReportFraud.ftc.gov）举报，损失钱财时也向警方报案。",
        "A scam posing as a collector: report it at ReportFraud.ftc.gov, and to the police if "
        "you lost money.",
    ),
    # -- sign-in
    "login.title": ("借款人 / 员工登录", "Borrower / staff sign-in"),
    "login.lead": (
        "登录后可查看账单、还款进度、申请还款方案、设置联系偏好和投诉。",
        "Sign in to see your bills and progress, request a repayment plan, set contact "
        "preferences and complain.",
    ),
    "login.username": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.error.invalid": ("用户名或密码不正确。", "Wrong user name or password."),
    "login.error.rate_limited": (
        "尝试次数过多，请 15 分钟后再试。",
        "Too many attempts; please try again in 15 minutes.",
    ),
    # -- portal
    "portal.title": ("我的账单", "My bills"),
    "portal.hello": ("您好", "Hello"),
    "portal.bills": ("账单与还款进度", "Bills and repayment progress"),
    "portal.no_bills": ("暂无账单。", "No bills."),
    "portal.plan_requests": ("我的还款方案申请", "My plan requests"),
    "portal.no_requests": ("还没有申请。", "No requests yet."),
    "portal.messages": ("我们发给您的催收信息", "Collection messages we sent you"),
    "portal.messages_hint": (
        "每一条都可以查看合规检查结果；如有不当，请在“投诉与反馈”告诉我们。",
        "Open any of them to see its compliance check; tell us under Complaints if one was "
        "improper.",
    ),
    "portal.no_messages": ("暂无。", "None."),
    "bill.outstanding": ("待还金额", "Outstanding"),
    "bill.due": ("到期日", "Due date"),
    "bill.overdue_days": ("已逾期天数", "days overdue"),
    "bill.progress": ("还款进度", "Repayment progress"),
    "bill.details": ("账单明细", "Bill details"),
    "bill.plans": ("查看还款方案", "See repayment plans"),
    "bill.principal": ("本金", "Principal"),
    "bill.interest": ("利息", "Interest"),
    "bill.fees": ("费用及罚息", "Fees and penalties"),
    "bill.paid": ("已还", "Paid"),
    "bill.loan_start": ("借款日", "Loan start"),
    "bill.payments": ("还款记录", "Payments"),
    "bill.paid_on": ("日期", "Date"),
    "bill.amount": ("金额", "Amount"),
    "bill.no_payments": ("暂无还款记录。", "No payments yet."),
    "plans.title": ("还款方案", "Repayment plans"),
    "plans.income_lead": (
        "填写每月收入和必要支出（元），方案会按您的承受能力计算；不填也可以。",
        "Enter your monthly income and essential expenses (CNY) for plans that fit your "
        "means; you may leave them empty.",
    ),
    "plans.income": ("月收入（元）", "Monthly income (CNY)"),
    "plans.expenses": ("月必要支出（元）", "Monthly expenses (CNY)"),
    "plans.recalculate": ("重新计算", "Recalculate"),
    "plans.paid_off": ("这笔账单已经还清。", "This bill is paid off."),
    "plans.term": ("{n} 期", "{n} months"),
    "plans.month": ("月", "month"),
    "plans.total": ("合计应还", "Total to pay"),
    "plans.waiver": ("减免", "Waived"),
    "plans.excess": ("超出法定上限、不再收取", "Above the lawful cap, not collected"),
    "plans.first_due": ("首期还款日", "First instalment"),
    "plans.request": ("申请此方案", "Request this plan"),
    "plans.confirm": ("确认申请这个还款方案吗？", "Request this repayment plan?"),
    "plans.requested": (
        "已提交还款方案申请，工作人员审核后会通知您。",
        "Your plan request was sent; staff will review it and let you know.",
    ),
    "plan_label.best_recovery": ("综合最优", "Best overall"),
    "plan_label.most_likely_to_complete": ("最易完成", "Easiest to complete"),
    "plan_label.alternative": ("备选", "Alternative"),
    "plan_status.pending": ("审核中", "Under review"),
    "plan_status.approved": ("已批准", "Approved"),
    "plan_status.declined": ("未批准", "Declined"),
    "prefs.title": ("联系偏好", "Contact preferences"),
    "prefs.lead": (
        "告诉我们可以用什么方式、在什么时间联系您。我们的发送系统会在每次联系前核对这些设置。",
        "Tell us how and when we may contact you. Our sending system checks these settings "
        "before every contact.",
    ),
    "prefs.channels": ("可以联系我的方式", "Channels you agree to"),
    "prefs.channel.sms": ("短信", "SMS"),
    "prefs.channel.phone": ("电话", "Phone calls"),
    "prefs.channel.email": ("电子邮件", "Email"),
    "prefs.channel.app_push": ("App 通知", "App notifications"),
    "prefs.hours": ("可以联系我的时间", "Hours you may be contacted"),
    "prefs.from": ("从", "From"),
    "prefs.to": ("到", "To"),
    "prefs.hours_hint": (
        "无论如何设置，我们都不会在 22:00 至次日 08:00 之间催收。",
        "Whatever you choose, we never contact you about debts between 22:00 and 08:00.",
    ),
    "prefs.opt_out_legend": ("停止催收联系", "Stop collection contact"),
    "prefs.opt_out": (
        "停止一切催收联系（法律要求的书面通知除外）",
        "Stop all collection contact (except notices required by law)",
    ),
    "prefs.opt_out_hint": (
        "停止联系不会免除债务；您仍可在本门户查看账单和申请方案。",
        "Stopping contact does not cancel the debt; you can still see bills and request "
        "plans here.",
    ),
    "prefs.saved": ("已保存联系偏好。", "Contact preferences saved."),
    "complaints.title": ("投诉与反馈", "Complaints and feedback"),
    "complaints.category": ("类别", "Category"),
    "complaints.subject": ("标题", "Subject"),
    "complaints.body": ("详细情况", "Details"),
    "complaints.submit": ("提交投诉", "Send complaint"),
    "complaints.mine": ("我的投诉", "My complaints"),
    "complaints.none": ("还没有投诉。", "No complaints yet."),
    "complaints.status": ("状态", "Status"),
    "complaints.sent_at": ("提交时间", "Sent at"),
    "complaints.reply": ("处理说明", "Our reply"),
    "complaints.back": ("返回投诉列表", "Back to complaints"),
    "complaints.sent": (
        "投诉已提交，合规部门会在 15 日内答复。",
        "Complaint sent; the compliance team replies within 15 days.",
    ),
    "category.collection_conduct": ("催收行为", "Collection conduct"),
    "category.billing": ("账单与费用", "Bills and fees"),
    "category.plan": ("还款方案", "Repayment plan"),
    "category.privacy": ("个人信息", "Personal data"),
    "category.other": ("其他", "Other"),
    "status.open": ("待处理", "Open"),
    "status.in_progress": ("处理中", "In progress"),
    "status.resolved": ("已解决", "Resolved"),
    # -- staff
    "staff.title": ("合规工作台", "Compliance desk"),
    "staff.inbox": ("投诉收件箱", "Complaints inbox"),
    "staff.filter": ("按状态筛选", "Filter by status"),
    "staff.all": ("全部", "All"),
    "staff.note": ("处理说明（借款人可见）", "Reply (visible to the borrower)"),
    "staff.empty": ("没有投诉。", "No complaints."),
    "staff.updated": ("已更新投诉状态。", "Complaint updated."),
    "staff.pending_plans": ("待审核的还款方案申请", "Plan requests to review"),
    "staff.approve": ("批准", "Approve"),
    "staff.decline": ("不批准", "Decline"),
    "staff.plan_decided": (
        "已处理还款方案申请，借款人会在门户中看到结果。",
        "Plan request decided; the borrower sees the result in the portal.",
    ),
    "staff.no_plans": ("没有待审核的申请。", "Nothing to review."),
    "staff.gateway": ("发送前合规网关", "Pre-send compliance gateway"),
    "staff.gateway_hint": (
        "启动时用 --gateway-db 指定网关数据库，这里就会显示最近的放行/拦截决定；"
        "审计导出请用命令 collectguard gateway。",
        "Start with --gateway-db to list the gateway's recent allow/deny decisions here; "
        "export the audit log with `collectguard gateway`.",
    ),
    "staff.chain_ok": (
        "决策日志的哈希链完整：链已核对至第 {n} 条（{at}）。",
        "The decision log's hash chain is intact: chain verified up to entry {n} ({at}).",
    ),
    "staff.chain_broken": (
        "决策日志的哈希链校验失败：{k} 处问题（链已核对至第 {n} 条，{at}），请立即用 "
        "collectguard gateway 核查！",
        "The decision log's hash chain does not verify: {k} problem(s) (chain verified up to "
        "entry {n}, {at}). Check it with collectguard gateway now!",
    ),
    "staff.chain_more": ("……另有 {n} 处问题", "… and {n} more problem(s)"),
    "staff.chain_scope": (
        "每次打开本页只核对上次之后新增的记录（并确认上次核对到的最后一条没有变）；更早的记录"
        "被改动，只有“完整核对”才能发现。上次完整核对：{at}，共 {n} 条。",
        "Each view of this page checks only the entries added since the last view (and that the "
        "last entry checked is unchanged); an edit to an older entry is found only by "
        "“verify the whole log”. Last full check: {at}, {n} entries.",
    ),
    "staff.chain_verify_all": ("完整核对（从第一条起）", "Verify the whole log now"),
    "staff.chain_verified": (
        "已从第一条起完整核对决策日志，结果见“发送前合规网关”。",
        "The whole decision log was verified from its first entry: see the result under "
        "“Pre-send compliance gateway”.",
    ),
    "staff.recent_decisions": (
        "最近的发送前决策（最新在前）",
        "Recent pre-send decisions (newest first)",
    ),
    "staff.when": ("时间（UTC）", "When (UTC)"),
    "staff.decision": ("决定", "Decision"),
    "staff.debtor": ("借款人", "Debtor"),
    "staff.reasons": ("原因", "Reasons"),
    "staff.no_decisions": ("还没有决策记录。", "No decisions yet."),
    "staff.audits": ("审计报告与评分卡", "Audit reports and scorecards"),
    "staff.audits_hint": (
        "上传催收通信日志，系统在后台审计，生成报告和催收员评分卡。",
        "Upload a collection communication log: it is audited in the background into a report "
        "and agent scorecards.",
    ),
    "staff.audits_open": ("打开审计报告", "Open audit reports"),
    "staff.audits_latest": ("最近的审计", "Latest audits"),
    # -- audits
    "audits.title": ("通信日志合规审计", "Communication log audits"),
    "audits.lead": (
        "上传催收通信日志（CSV、JSON Lines 或 Parquet，字段见审计文档），系统在后台逐条审计"
        "联系时段、频次、第三方和话术，生成报告和催收员评分卡。",
        "Upload a collection communication log (CSV, JSON Lines or Parquet; columns as in the "
        "audit docs). It is audited in the background — hours, frequency, third parties, "
        "wording — into a report and agent scorecards.",
    ),
    "audits.file": ("日志文件", "Log file"),
    "audits.formats": (
        "支持 .csv、.jsonl、.ndjson、.parquet，最大 {size}。"
        "更大的日志请用命令 collectguard audit。",
        "Accepted: .csv, .jsonl, .ndjson, .parquet; at most {size}. Audit bigger logs with "
        "the collectguard audit command.",
    ),
    "audits.submit": ("上传并审计", "Upload and audit"),
    "audits.runs": ("审计记录", "Audit runs"),
    "audits.none": ("还没有审计记录。", "No audits yet."),
    "audits.file_col": ("文件", "File"),
    "audits.status": ("状态", "Status"),
    "audits.created": ("上传时间", "Uploaded"),
    "audits.contacts": ("联系次数", "Contacts"),
    "audits.violations": ("违规", "Violations"),
    "audits.rate": ("违规率", "Violation rate"),
    "audits.error.type": (
        "文件类型不对：请上传 .csv、.jsonl、.ndjson 或 .parquet 格式的日志。",
        "Wrong file type: upload a .csv, .jsonl, .ndjson or .parquet log.",
    ),
    "audits.error.empty": ("文件是空的。", "The file is empty."),
    "audits.error.columns": (
        "CSV 表头缺少必需的列（event_id、occurred_at、debtor_id 等）。",
        "The CSV header lacks required columns (event_id, occurred_at, debtor_id, …).",
    ),
    "audit_status.queued": ("排队中", "Queued"),
    "audit_status.running": ("审计中", "Running"),
    "audit_status.done": ("已完成", "Done"),
    "audit_status.failed": ("失败", "Failed"),
    "audit.title": ("审计 #{id}", "Audit #{id}"),
    "audit.progress_queued": (
        "排队等待中……页面会自动刷新。",
        "Waiting in the queue… this page refreshes itself.",
    ),
    "audit.progress_running": (
        "正在审计，已用时 {s} 秒……页面会自动刷新。",
        "Auditing, {s} s so far… this page refreshes itself.",
    ),
    "audit.stage.read": (
        "第 1 步（共 3 步）：读取并校验日志，已读 {rows} 行",
        "Step 1 of 3: reading and validating the log, {rows} rows so far",
    ),
    "audit.stage.rules": (
        "第 2 步（共 3 步）：对 {rows} 行运行规则",
        "Step 2 of 3: running the rules on {rows} rows",
    ),
    "audit.stage.report": (
        "第 3 步（共 3 步）：生成评分卡和报告（{rows} 行）",
        "Step 3 of 3: building scorecards and reports ({rows} rows)",
    ),
    "audit.refresh": ("刷新", "Refresh"),
    "audit.failed": ("审计失败：", "The audit failed:"),
    "audit.failed_internal": (
        "服务器内部错误（已记录）。请检查文件后重试。",
        "Internal error (logged). Check the file and try again.",
    ),
    "audit.took": ("用时 {s} 秒", "took {s} s"),
    "audit.overview": ("概览", "Overview"),
    "audit.input_rows": ("输入行数", "Input rows"),
    "audit.rejected": ("拒绝行数", "Rejected rows"),
    "audit.by_rule": ("按规则统计", "By rule"),
    "audit.citation": ("依据", "Citation"),
    "audit.agents": (
        "催收员评分卡（违规率最高的 20 名）",
        "Agent scorecards (20 highest violation rates)",
    ),
    "audit.teams": ("小组评分卡", "Team scorecards"),
    "audit.agencies": ("机构评分卡", "Agency scorecards"),
    "audit.agent": ("催收员", "Agent"),
    "audit.team": ("小组", "Team"),
    "audit.agency": ("机构", "Agency"),
    "audit.violating_events": ("违规事件", "Violating events"),
    "audit.top_rules": ("主要规则", "Top rules"),
    "audit.escalation": ("屡次违规，需升级处理", "Repeat offenders to escalate"),
    "audit.repeats": ("再犯次数", "Repeats"),
    "audit.none": ("无", "None"),
    "audit.report_zh": ("完整报告（中文）", "Full report (Chinese)"),
    "audit.report_en": ("完整报告（英文）", "Full report (English)"),
    "audit.summary_json": ("摘要（JSON）", "Summary (JSON)"),
    "audit.cards_json": ("评分卡（JSON）", "Scorecards (JSON)"),
    "audit.back": ("返回审计列表", "Back to audits"),
    "verdict_gw.allow": ("放行", "Allowed"),
    "verdict_gw.deny": ("拦截", "Denied"),
    "verdict_gw.defer": ("推迟", "Deferred"),
    # -- errors
    "error.400": ("请求有误", "Bad request"),
    "error.400.hint": ("请检查填写的内容后重试。", "Please check what you entered and try again."),
    "error.403": ("没有权限", "Not allowed"),
    "error.403.hint": (
        "您无权访问此页面，或表单已过期，请刷新页面后重试。",
        "You may not open this page, or the form expired: reload the page and try again.",
    ),
    "error.404": ("找不到页面", "Page not found"),
    "error.404.hint": (
        "链接可能有误或内容不存在。",
        "The link may be wrong or the item does not exist.",
    ),
    "error.500": ("服务器出错了", "Something went wrong"),
    "error.500.hint": (
        "我们已记录这个问题，请稍后再试。",
        "We logged the problem; please try again later.",
    ),
    "error.503": ("暂时无法生成这个文件", "This file cannot be made right now"),
    "error.503.hint": (
        "服务器缺少生成它所需的中文字体或组件。请改为下载 Word 或 Markdown 版本，或联系管理员。",
        "The server lacks the Chinese font or component it needs. Download the Word version "
        "instead, or tell the administrator.",
    ),
    "error.other": ("出错了", "Something went wrong"),
    "error.other.hint": ("请稍后再试。", "Please try again later."),
    "error.home": ("返回首页", "Back to the start"),
}
