"""Fixed vocabularies for the demo hospital (names, departments, conditions)."""

from __future__ import annotations

# (code, English name, Mandarin name, spoken synonyms)
DEPARTMENTS: list[tuple[str, str, str, list[str]]] = [
    ("CARD", "Cardiology", "心内科", ["heart", "cardiac", "心脏", "心脏科"]),
    ("DERM", "Dermatology", "皮肤科", ["skin", "皮肤"]),
    ("ENDO", "Endocrinology", "内分泌科", ["diabetes", "thyroid", "糖尿病", "内分泌"]),
    ("GAST", "Gastroenterology", "消化内科", ["stomach", "digestive", "胃", "消化"]),
    ("NEUR", "Neurology", "神经内科", ["nerves", "brain", "神经", "神经科"]),
    ("ORTH", "Orthopaedics", "骨科", ["bones", "joints", "骨头", "关节"]),
    ("PEDS", "Paediatrics", "儿科", ["children", "kids", "孩子", "小儿科"]),
    ("OBGY", "Obstetrics and Gynaecology", "妇产科", ["pregnancy", "women", "妇科", "产科"]),
]

SPECIALTIES: dict[str, list[str]] = {
    "CARD": ["Interventional cardiology", "Heart failure", "Electrophysiology"],
    "DERM": ["General dermatology", "Dermatologic surgery"],
    "ENDO": ["Diabetes", "Thyroid disorders"],
    "GAST": ["Hepatology", "Endoscopy"],
    "NEUR": ["Stroke", "Epilepsy", "Movement disorders"],
    "ORTH": ["Joint replacement", "Sports medicine", "Spine surgery"],
    "PEDS": ["General paediatrics", "Neonatology"],
    "OBGY": ["Obstetrics", "Gynaecology", "Fertility"],
}

EN_GIVEN_F = [
    "Mary",
    "Patricia",
    "Jennifer",
    "Linda",
    "Elizabeth",
    "Susan",
    "Jessica",
    "Sarah",
    "Karen",
    "Nancy",
    "Lisa",
    "Margaret",
    "Sandra",
    "Ashley",
    "Emily",
    "Donna",
    "Michelle",
    "Carol",
    "Amanda",
    "Melissa",
    "Deborah",
    "Laura",
    "Rebecca",
    "Sharon",
]
EN_GIVEN_M = [
    "James",
    "Robert",
    "John",
    "Michael",
    "David",
    "William",
    "Richard",
    "Joseph",
    "Thomas",
    "Charles",
    "Daniel",
    "Matthew",
    "Anthony",
    "Mark",
    "Donald",
    "Steven",
    "Paul",
    "Andrew",
    "Joshua",
    "Kenneth",
    "Kevin",
    "Brian",
    "George",
    "Edward",
]
EN_FAMILY = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "O'Brien",
    "Nguyen",
    "Patel",
    "Kim",
    "Cohen",
    "Murphy",
    "Rossi",
    "Okafor",
]
ZH_FAMILY = [
    "王",
    "李",
    "张",
    "刘",
    "陈",
    "杨",
    "赵",
    "黄",
    "周",
    "吴",
    "徐",
    "孙",
    "胡",
    "朱",
    "高",
    "林",
    "何",
    "郭",
    "马",
    "罗",
]
ZH_GIVEN_F = ["芳", "娜", "秀英", "敏", "静", "丽", "艳", "娟", "霞", "玲", "桂英", "丹", "萍"]
ZH_GIVEN_M = ["伟", "强", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "刚", "平", "辉"]

STREETS = [
    "Main St",
    "Oak Ave",
    "Maple Dr",
    "Cedar Ln",
    "Elm St",
    "Park Ave",
    "Pine St",
    "Washington Blvd",
    "Lake Rd",
    "Hill St",
]
CITIES = ["Springfield", "Riverside", "Fairview", "Franklin", "Greenville", "Madison"]

ALLERGENS = [
    "Penicillin",
    "Sulfonamides",
    "Aspirin",
    "Ibuprofen",
    "Latex",
    "Peanuts",
    "Shellfish",
    "Iodine contrast",
    "Codeine",
    "Eggs",
]

# (ICD-10 category, name, prevalence among demo patients)
CONDITIONS: list[tuple[str, str, float]] = [
    ("I10", "Essential hypertension", 0.22),
    ("E11", "Type 2 diabetes mellitus", 0.11),
    ("J45", "Asthma", 0.07),
    ("I50", "Heart failure", 0.03),
    ("J44", "Chronic obstructive pulmonary disease", 0.04),
    ("N18", "Chronic kidney disease", 0.03),
    ("E03", "Hypothyroidism", 0.05),
    ("F32", "Depressive episode", 0.05),
]

# (weekday, start "HH:MM", end "HH:MM") clinic sessions a doctor may hold.
SESSIONS = [
    (day, start, end) for day in range(5) for start, end in (("08:30", "12:00"), ("13:30", "17:00"))
]
