"""GB/T 22239-2019 level-3 requirements a hardening role is judged against.

The host-side clauses (8.1.4 安全计算环境) in full, with, for each one a host
cannot satisfy by its own configuration, what it needs instead, said plainly.
The coverage document (docs/mlps-coverage.md) is generated from this table
and the control files.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Clause:
    id: str  # "8.1.4.1 a"
    text: str  # the standard's requirement, abridged
    level2: str | None  # the level-2 clause that asks the same (7.1.x), None if level 3 only
    outside_host: str = ""  # why a host control cannot (fully) satisfy it, and who does


CLAUSES: tuple[Clause, ...] = (
    Clause(
        "8.1.4.1 a",
        "对登录的用户进行身份标识和鉴别，身份标识唯一，鉴别信息具有复杂度要求并定期更换",
        "7.1.4.1 a",
    ),
    Clause(
        "8.1.4.1 b",
        "具有登录失败处理功能：结束会话、限制非法登录次数、登录连接超时自动退出",
        "7.1.4.1 b",
    ),
    Clause("8.1.4.1 c", "远程管理时防止鉴别信息在网络传输过程中被窃听", "7.1.4.1 c"),
    Clause(
        "8.1.4.1 d",
        "采用两种或两种以上组合的鉴别技术，其中一种至少使用密码技术",
        None,
        "Partly: ssh keys are the cryptographic factor and administrators' sudo passwords the second. "
        "A hardware token, OTP or SM2 certificate at a bastion host (堡垒机) is the city's choice and "
        "infrastructure, not a host setting.",
    ),
    Clause(
        "8.1.4.2 a",
        "对登录的用户分配账户和权限",
        "7.1.4.2 a",
        "Who gets an account is decided by people; yunwang creates the accounts the estate declares (三员).",
    ),
    Clause("8.1.4.2 b", "重命名或删除默认账户，修改默认账户的默认口令", "7.1.4.2 b"),
    Clause("8.1.4.2 c", "及时删除或停用多余的、过期的账户，避免共享账户的存在", "7.1.4.2 c"),
    Clause("8.1.4.2 d", "授予管理用户所需的最小权限，实现管理用户的权限分离", "7.1.4.2 d"),
    Clause(
        "8.1.4.2 e",
        "由授权主体配置访问控制策略，规定主体对客体的访问规则",
        None,
        "The policy is the estate file under review in git: who may approve a change is an "
        "organisational rule (8.1.6), not a host setting.",
    ),
    Clause("8.1.4.2 f", "访问控制粒度主体为用户级或进程级，客体为文件、数据库表级", None),
    Clause(
        "8.1.4.2 g",
        "对重要主体和客体设置安全标记，并控制主体对有安全标记信息资源的访问",
        None,
        "Needs mandatory access control with labels (SELinux MLS or a domestic secure OS). Debian's "
        "default kernel does not enforce labels; not covered by this role: say so to the assessor.",
    ),
    Clause(
        "8.1.4.3 a",
        "启用安全审计功能，审计覆盖到每个用户，对重要的用户行为和重要安全事件进行审计",
        "7.1.4.3 a",
    ),
    Clause(
        "8.1.4.3 b", "审计记录包括事件的日期和时间、用户、事件类型、事件是否成功等", "7.1.4.3 b"
    ),
    Clause(
        "8.1.4.3 c", "对审计记录进行保护，定期备份，避免受到未预期的删除、修改或覆盖", "7.1.4.3 c"
    ),
    Clause("8.1.4.3 d", "对审计进程进行保护，防止未经授权的中断", None),
    Clause("8.1.4.4 a", "遵循最小安装的原则，仅安装需要的组件和应用程序", "7.1.4.4 a"),
    Clause("8.1.4.4 b", "关闭不需要的系统服务、默认共享和高危端口", "7.1.4.4 b"),
    Clause("8.1.4.4 c", "通过设定终端接入方式或网络地址范围对管理终端进行限制", "7.1.4.4 c"),
    Clause(
        "8.1.4.4 d",
        "提供数据有效性检验功能，保证输入内容符合系统设定要求",
        "7.1.4.4 d",
        "Input validation is the application's duty (its developers and its test report), not the host's.",
    ),
    Clause(
        "8.1.4.4 e",
        "能发现可能存在的已知漏洞，并在充分测试评估后及时修补",
        "7.1.4.4 e",
        "Partly: the host gets a security update source; scanning and the decision to patch are people's work (8.1.10).",
    ),
    Clause(
        "8.1.4.4 f",
        "能够检测到对重要节点进行入侵的行为，并在发生严重入侵事件时提供报警",
        None,
        "Partly: hosts log what detection needs; `yunwang sense` and `yunwang watch` detect and raise the alarm.",
    ),
    Clause(
        "8.1.4.5 a",
        "采用免受恶意代码攻击的技术措施或主动免疫可信验证机制，及时识别入侵和病毒行为并有效阻断",
        "7.1.4.5 a",
    ),
    Clause(
        "8.1.4.6 a",
        "基于可信根对系统引导程序、系统程序、重要配置参数和应用程序进行可信验证，受到破坏后报警并送至安全管理中心",
        "7.1.4.6 a",
        "Partly: package signatures, dpkg checksums and AIDE verify programs and configuration; a boot "
        "chain measured from a hardware root of trust (TPM/TCM) needs that hardware.",
    ),
    Clause("8.1.4.7 a", "采用校验技术或密码技术保证重要数据在传输过程中的完整性", "7.1.4.7 a"),
    Clause("8.1.4.7 b", "采用校验技术或密码技术保证重要数据在存储过程中的完整性", None),
    Clause(
        "8.1.4.8 a",
        "采用密码技术保证重要数据在传输过程中的保密性",
        None,
        "Partly: ssh uses strong international algorithms. Where 商用密码 (SM2/SM3/SM4, GM/T 0024) is "
        "required the city's crypto evaluation (密评) decides the gateway; Debian's OpenSSH has no SM suites.",
    ),
    Clause(
        "8.1.4.8 b",
        "采用密码技术保证重要数据在存储过程中的保密性",
        None,
        "Partly: authentication secrets are hashed and keys protected; encrypting business data at rest is the application's and storage's choice.",
    ),
    Clause(
        "8.1.4.9 a",
        "提供重要数据的本地数据备份与恢复功能",
        "7.1.4.9 a",
        "Partly: hosts back up their own configuration; business data backup is the DR room (dr/).",
    ),
    Clause(
        "8.1.4.9 b",
        "提供异地实时备份功能",
        "7.1.4.9 b",
        "The DR centre's replication (dr/, `yunwang dr`), not a host setting.",
    ),
    Clause(
        "8.1.4.9 c",
        "提供重要数据处理系统的热冗余，保证系统的高可用性",
        None,
        "Redundant hosts and links are the estate's design (infra/, dual links), not a host setting.",
    ),
    Clause("8.1.4.10 a", "保证鉴别信息所在的存储空间被释放或重新分配前得到完全清除", "7.1.4.10 a"),
    Clause("8.1.4.10 b", "保证存有敏感数据的存储空间被释放或重新分配前得到完全清除", None),
    Clause(
        "8.1.4.11 a",
        "仅采集和保存业务必需的用户个人信息",
        "7.1.4.11 a",
        "What personal data a system collects is the application owner's decision (个人信息保护法).",
    ),
    Clause(
        "8.1.4.11 b",
        "禁止未授权访问和非法使用用户个人信息",
        "7.1.4.11 b",
        "Enforced in the application and its database grants, reviewed by people.",
    ),
    Clause(
        "8.1.3.2 a",
        "在网络边界或区域之间设置访问控制规则，默认情况下除允许通信外受控接口拒绝所有通信",
        "7.1.3.2 a",
    ),
    Clause(
        "8.1.5.1 a",
        "对系统管理员进行身份鉴别，只允许其通过特定命令或操作界面进行系统管理操作，并进行审计",
        "7.1.5.1 a",
    ),
    Clause(
        "8.1.5.2 a", "对审计管理员进行身份鉴别，只允许其进行安全审计操作，并进行审计", "7.1.5.2 a"
    ),
    Clause("8.1.5.3 a", "对安全管理员进行身份鉴别，只允许其进行安全策略配置操作，并进行审计", None),
    Clause(
        "8.1.5.4 d",
        "对分散在各个设备上的审计数据进行收集汇总和集中分析，审计记录留存时间符合法律法规要求",
        None,
    ),
)

# Whole chapters that only people can satisfy: the role says so instead of pretending.
MANAGEMENT_CHAPTERS = (
    (
        "8.1.6",
        "安全管理制度",
        "security policies and procedures: written, approved, reviewed by the organisation",
    ),
    (
        "8.1.7",
        "安全管理机构",
        "security organisation: roles, approval and authorisation, communication, audits",
    ),
    ("8.1.8", "安全管理人员", "security personnel: hiring, leaving, training, external staff"),
    (
        "8.1.9",
        "安全建设管理",
        "security construction: grading, design, procurement, acceptance, vendors",
    ),
    (
        "8.1.10",
        "安全运维管理",
        "operations: asset, media, change, backup and incident management, drills",
    ),
)
