"""Write a city-sized estate file.

    python bench/make_city.py --puyang > examples/puyang.yaml      # the example city
    python bench/make_city.py --counties 12 --townships 30 --villages 60 > /tmp/big.yaml
    python bench/make_city.py --counties 2 --townships 8 --villages 12 --ipv4 198.18.0.0/15

`--ipv4` replaces the city's IPv4 plan (for a bench that sends its traffic
into namespaces, where only 198.18.0.0/15 may be used); the management
zone's IPv4 DHCP server, an address of the default plan, is left out.

`--puyang` uses the real counties/districts and townships of 濮阳市 and its
departments; other sizes get generated names. The output is plain estate
YAML: villages use the compact `villages:` block, which expands to real nodes.
"""

from __future__ import annotations

import argparse
import sys

PUYANG: dict[tuple[str, str], list[str]] = {
    ("hl", "华龙区"): [
        "中原路街道",
        "胜利路街道",
        "人民路街道",
        "大庆路街道",
        "黄河路街道",
        "任丘路街道",
        "长庆路街道",
        "五一路街道",
        "京开道街道",
        "昆吾街道",
        "孟轲乡",
        "岳村镇",
        "王助镇",
        "新习镇",
        "濮上街道",
    ],
    ("pyx", "濮阳县"): [
        "城关镇",
        "柳屯镇",
        "文留镇",
        "庆祖镇",
        "八公桥镇",
        "徐镇镇",
        "户部寨镇",
        "鲁河镇",
        "子岸镇",
        "胡状镇",
        "王称堌镇",
        "梁庄镇",
        "五星乡",
        "海通乡",
        "郎中乡",
        "白堽乡",
        "渠村乡",
        "习城乡",
        "清河头乡",
        "新习乡",
    ],
    ("qf", "清丰县"): [
        "城关镇",
        "马庄桥镇",
        "瓦屋头镇",
        "仙庄镇",
        "柳格镇",
        "韩村镇",
        "阳邵镇",
        "古城乡",
        "六塔乡",
        "双庙乡",
        "高堡乡",
        "纸房乡",
        "大流乡",
        "大屯乡",
        "固城乡",
        "巩营乡",
        "柳格乡",
    ],
    ("nl", "南乐县"): [
        "城关镇",
        "韩张镇",
        "元村镇",
        "福堪镇",
        "谷金楼镇",
        "千口镇",
        "杨村乡",
        "近德固乡",
        "张果屯乡",
        "寺庄乡",
        "梁村乡",
        "西邵乡",
    ],
    ("fx", "范县"): [
        "城关镇",
        "濮城镇",
        "王楼镇",
        "龙王庄镇",
        "辛庄镇",
        "陈庄镇",
        "高码头镇",
        "白衣阁乡",
        "颜村铺乡",
        "杨集乡",
        "陆集乡",
        "张庄乡",
    ],
    ("tq", "台前县"): [
        "城关镇",
        "侯庙镇",
        "孙口镇",
        "打渔陈镇",
        "马楼镇",
        "吴坝镇",
        "夹河乡",
        "清水河乡",
        "后方乡",
    ],
}

DEPARTMENTS = [
    ("zfb", "市人民政府办公室"),
    ("fgw", "市发展和改革委员会"),
    ("jyj", "市教育局"),
    ("kjj", "市科学技术局"),
    ("gxj", "市工业和信息化局"),
    ("gaj", "市公安局"),
    ("mzj", "市民政局"),
    ("sfj", "市司法局"),
    ("czj", "市财政局"),
    ("rsj", "市人力资源和社会保障局"),
    ("zrzyj", "市自然资源和规划局"),
    ("sthjj", "市生态环境局"),
    ("zjj", "市住房和城乡建设局"),
    ("cgj", "市城市管理局"),
    ("jtj", "市交通运输局"),
    ("slj", "市水利局"),
    ("nyncj", "市农业农村局"),
    ("swj", "市商务局"),
    ("wglj", "市文化广电和旅游局"),
    ("wjw", "市卫生健康委员会"),
    ("tyjrj", "市退役军人事务局"),
    ("yjglj", "市应急管理局"),
    ("sjj", "市审计局"),
    ("scjgj", "市市场监督管理局"),
    ("tjj", "市统计局"),
    ("ybj", "市医疗保障局"),
    ("spj", "市行政审批和政务信息管理局"),
    ("gjj", "市住房公积金管理中心"),
    ("xfj", "市信访局"),
    ("lsj", "市粮食和物资储备局"),
    ("jgswj", "市机关事务管理局"),
    ("qxj", "市气象局"),
    ("daj", "市档案馆"),
    ("dsjj", "市大数据管理局"),
]

# (code, name, zone, MLPS level, DR class, IPv6 readiness, hosts)
SYSTEM_KINDS = [
    ("ywbl", "业务办理系统", "gov-extranet", 3, "gold", "dual-stack", 3),
    ("xtbg", "协同办公系统", "gov-extranet", 2, "silver", "ready", 2),
    ("mhwz", "门户网站", "exchange", 2, "silver", "ready", 2),
    ("sjgx", "数据共享接口", "exchange", 3, "gold", "planned", 2),
    ("tjfx", "统计分析系统", "gov-extranet", 2, "bronze", "not-ready", 1),
]
COUNTY_MODELS = ["huawei-s5720", "h3c-comware"]
TOWNSHIP_MODELS = ["ruijie-s5750", "zte-zxr10", "h3c-comware", "huawei-s5720", "cisco-c3850"]

HEADER = """\
# 濮阳市 as an estate: 6 counties/districts, their townships, ~3,000 villages,
# 34 departments with 142 systems. Written by bench/make_city.py; edit freely.
city: {{name: {city}, code: {code}}}
sites:
  main: {{name: 市政务云, region: {code}-main}}
  dr: {{name: 市容灾备份中心, region: {code}-dr}}
address_plan:
  ipv4: 10.32.0.0/12
  ipv6: 2001:db8:3900::/48
zones:
  - {{name: gov-extranet, kind: extranet, description: 电子政务外网}}
  - {{name: internet, kind: internet, description: 互联网}}
  - {{name: exchange, description: 安全交换区}}
  - {{name: management, description: 安全管理中心与运维管理区, dhcp_servers: [10.32.192.2, "2001:db8:3900:c00::2"]}}
  - {{name: dr-replication, description: 容灾复制网络}}
isolation:
  - {{from: gov-extranet, to: exchange, allow: [tcp/443, tcp/8443], reason: 业务系统经交换区与互联网交换数据}}
  - {{from: internet, to: exchange, allow: [tcp/443], reason: 公众门户}}
  - {{from: exchange, to: gov-extranet, allow: [tcp/8443], reason: 数据摆渡回传}}
  - {{from: management, to: "*", allow: [tcp/22, udp/161, tcp/9100, icmp], reason: 运维与监测}}
  - {{from: gov-extranet, to: management, allow: [udp/514, tcp/6514], reason: 日志集中留存（≥6个月）}}
  - {{from: exchange, to: management, allow: [udp/514, tcp/6514], reason: 日志集中留存（≥6个月）}}
  - {{from: gov-extranet, to: dr-replication, allow: [tcp/5432, tcp/22], reason: 数据级容灾复制与备份}}
monitoring:
  poll_interval: 60s
  timeout: 2s
  retries: 2
  default_credential: extranet-v3
  credentials:
    extranet-v3:
      version: 3
      user: yunwang
      auth_protocol: sha256
      auth_key: {{env: YUNWANG_SNMP_AUTH}}
      priv_protocol: aes128
      priv_key: {{env: YUNWANG_SNMP_PRIV}}
  sensors:
{sensors}dr:
  drill_interval: 90d
  classes:
    gold: {{rpo: 5m, rto: 30m, method: replication}}
    silver: {{rpo: 1h, rto: 4h, method: replication}}
    bronze: {{rpo: 24h, rto: 72h, method: backup}}
extranet:
  owed_bandwidth: {{county: 1Gbit/s, township: 100Mbit/s, village: 20Mbit/s}}
  nodes:
    - id: {code}
      name: {city}
      level: city
      devices:
        - {{name: {code}-core-1, model: huawei-s12704, lan_macs: ["{core1}", "{vrrp}"]}}
        - {{name: {code}-core-2, model: huawei-s12704, lan_macs: ["{core2}", "{vrrp}"]}}
"""
VRRP_MAC = "00:00:5e:00:01:01"  # VRID 1: every LAN's gateway pair uses it


def mac(county: int, township: int, device: int) -> str:
    """A locally administered MAC per device: 02:59:<county>:<township>:00:<device>."""
    return f"02:59:{county:02x}:{township:02x}:00:{device:02x}"


def counties_of(args: argparse.Namespace) -> list[tuple[str, str, list[str]]]:
    if args.puyang:
        return [(code, name, towns) for (code, name), towns in PUYANG.items()]
    return [
        (f"c{c:02d}", f"第{c}县", [f"第{t}镇" for t in range(1, args.townships + 1)])
        for c in range(1, args.counties + 1)
    ]


def write(args: argparse.Namespace, emit: list[str]) -> None:
    city_code = "puyang" if args.puyang else "demo"
    counties = counties_of(args)
    sensors = (
        f"    - {{name: {city_code}-core-tap, node: {city_code}, interface: eth1}}\n"
        + "".join(
            f"    - {{name: {ccode}-tap, node: {ccode}, interface: eth1}}\n"
            for ccode, _, _ in counties
        )
    )
    emit.append(
        HEADER.format(
            city="濮阳市" if args.puyang else "示范市",
            code=city_code,
            sensors=sensors,
            core1=mac(0, 0, 1),
            core2=mac(0, 0, 2),
            vrrp=VRRP_MAC,
        )
    )
    for c, (ccode, cname, towns) in enumerate(counties, start=1):
        model = COUNTY_MODELS[c % len(COUNTY_MODELS)]
        emit.append(f"""
    - id: {ccode}
      name: {cname}
      level: county
      parent: {city_code}
      devices:
        - {{name: {ccode}-agg-1, model: {model}, lan_macs: ["{mac(c, 0, 1)}", "{VRRP_MAC}"]}}
        - {{name: {ccode}-agg-2, model: {model}, lan_macs: ["{mac(c, 0, 2)}", "{VRRP_MAC}"]}}
      uplinks:
        - {{role: primary, interface: XGigabitEthernet0/0/1, parent_interface: XGigabitEthernet1/0/{c}}}
        - {{role: backup, interface: XGigabitEthernet0/0/2, parent_interface: XGigabitEthernet2/0/{c}, device: {ccode}-agg-2, parent_device: {city_code}-core-2}}
""")
        # ~3,000 villages over ~85 townships: 30-40 each, varied but deterministic.
        for t, tname in enumerate(towns, start=1):
            tcode = f"{ccode}-t{t:02d}"
            tmodel = TOWNSHIP_MODELS[(c + t) % len(TOWNSHIP_MODELS)]
            villages = args.villages if not args.puyang else 30 + (c * 7 + t * 3) % 11
            emit.append(f"""    - id: {tcode}
      name: {tname}
      level: township
      parent: {ccode}
      devices: [{{name: {tcode}-r1, model: {tmodel}, lan_macs: ["{mac(c, t, 1)}"]}}]
      uplinks:
        - {{role: primary, interface: GigabitEthernet0/0/1, parent_interface: GigabitEthernet1/0/{t}}}
        - {{role: backup, interface: GigabitEthernet0/0/2, parent_interface: GigabitEthernet1/0/{t}, parent_device: {ccode}-agg-2}}
      villages: {{count: {villages}, model: generic, interface: GigabitEthernet0/1, parent_interface: "GigabitEthernet2/0/{{n}}"}}
""")
    emit.append("\ntenants:\n")
    departments = (
        DEPARTMENTS
        if args.puyang
        else [(f"d{i:02d}", f"第{i}部门") for i in range(1, args.tenants + 1)]
    )
    total = args.systems
    for i, (code, name) in enumerate(departments):
        # 142 systems over 34 departments: four each, five for the first six.
        count = total // len(departments) + (1 if i < total % len(departments) else 0)
        emit.append(f"  - code: {code}\n    name: {name}\n    systems:\n")
        for k in range(count):
            scode, sname, zone, level, dr, v6, hosts = SYSTEM_KINDS[k % len(SYSTEM_KINDS)]
            emit.append(
                f"      - {{code: {scode}, name: {name.removeprefix('市')}{sname}, zone: {zone}, mlps_level: {level}, "
                f"dr_class: {dr}, ipv6: {v6}, hosts: [{{name: {code}-{scode}, count: {hosts}}}]}}\n"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--puyang", action="store_true", help="the real 濮阳市 names and sizes")
    parser.add_argument("--counties", type=int, default=6)
    parser.add_argument("--townships", type=int, default=15)
    parser.add_argument("--villages", type=int, default=33)
    parser.add_argument("--tenants", type=int, default=34)
    parser.add_argument("--systems", type=int, default=142)
    parser.add_argument("--ipv4", help="the IPv4 address plan instead of 10.32.0.0/12")
    args = parser.parse_args()
    emit: list[str] = []
    write(args, emit)
    text = "".join(emit)
    if args.ipv4:
        text = text.replace("ipv4: 10.32.0.0/12", f"ipv4: {args.ipv4}")
        text = text.replace("dhcp_servers: [10.32.192.2, ", "dhcp_servers: [")
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
