"""Cross-script benchmark generator: fictional Ukrainian people written
once by a Ukrainian authority (Ukrainian Cyrillic or KMU-2010 Latin) and once
by a Russian one (Russian Cyrillic, ICAO-2014, 2010-2014 "TC" style,
pre-2010 "Y" style, English given names, or copied Ukrainian Cyrillic), with
typos, given/family swaps, day/month swaps, a year off, year-only dates,
missing patronymics and places under Ukrainian or Russian names.

Surnames are built from invented roots and common suffixes, so no real
person is described. The transliteration tables here are written
independently of the Rust ones, from the same standards.

Usage: gen_crossscript.py OUT_DIR [PEOPLE] [SEED]
"""
import csv
import random
import sys
from pathlib import Path

# --- transliteration (KMU-2010; ICAO Doc 9303; FMS 2010 "TC"; MVD 1997 "Y") ---
BASE = dict(zip("абвгґдежзийклмнопрстуфхцчшщьюяіїєёъыэ",
                ["a", "b", "v", "g", "g", "d", "e", "zh", "z", "i", "i", "k", "l", "m", "n", "o", "p", "r",
                 "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "iu", "ia", "i", "i", "ie", "e",
                 "ie", "y", "e"]))
KMU = dict(BASE, г="h", и="y")
KMU_INITIAL = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}
TC = dict(BASE, ц="tc", ъ="")
Y = dict(BASE, й="y", ю="yu", я="ya", ъ="")
VOWELS = set("аеёиіїоуыэюяєъь")


def translit(text, system):
    out, prev = [], None
    for ch in text:
        low = ch.lower()
        if low in "'’ʼ":
            continue
        if low not in BASE:
            out.append(ch)
            prev = None
            continue
        if system == "kmu":
            if low == "г" and prev == "з":
                lat = "gh"
            elif prev is None and low in KMU_INITIAL:
                lat = KMU_INITIAL[low]
            else:
                lat = KMU[low]
        elif system == "icao":
            lat = BASE[low]
        elif system == "tc":
            lat = TC[low]
        else:
            lat = "ye" if low in "её" and (prev is None or prev in VOWELS) else Y[low]
        if ch.isupper() and lat:
            lat = lat[0].upper() + lat[1:]
        out.append(lat)
        prev = low
    return "".join(out)


# --- fictional people ---
# Male given names: Ukrainian, Russian, English, then patronymics
# (UA masc, UA fem, RU masc, RU fem).
MALE = [
    ("Олександр", "Александр", "Alexander", "Олександрович", "Олександрівна", "Александрович", "Александровна"),
    ("Андрій", "Андрей", "Andrew", "Андрійович", "Андріївна", "Андреевич", "Андреевна"),
    ("Микола", "Николай", "Nicholas", "Миколайович", "Миколаївна", "Николаевич", "Николаевна"),
    ("Петро", "Пётр", "Peter", "Петрович", "Петрівна", "Петрович", "Петровна"),
    ("Федір", "Фёдор", "Fyodor", "Федорович", "Федорівна", "Фёдорович", "Фёдоровна"),
    ("Сергій", "Сергей", "Sergei", "Сергійович", "Сергіївна", "Сергеевич", "Сергеевна"),
    ("Іван", "Иван", "Ivan", "Іванович", "Іванівна", "Иванович", "Ивановна"),
    ("Михайло", "Михаил", "Michael", "Михайлович", "Михайлівна", "Михайлович", "Михайловна"),
    ("Григорій", "Григорий", "Gregory", "Григорович", "Григорівна", "Григорьевич", "Григорьевна"),
    ("Дмитро", "Дмитрий", "Dmitry", "Дмитрович", "Дмитрівна", "Дмитриевич", "Дмитриевна"),
    ("Євген", "Евгений", "Eugene", "Євгенович", "Євгенівна", "Евгеньевич", "Евгеньевна"),
    ("Юрій", "Юрий", "Yuri", "Юрійович", "Юріївна", "Юрьевич", "Юрьевна"),
    ("Володимир", "Владимир", "Vladimir", "Володимирович", "Володимирівна", "Владимирович", "Владимировна"),
    ("Василь", "Василий", "Vasily", "Васильович", "Василівна", "Васильевич", "Васильевна"),
    ("Віктор", "Виктор", "Victor", "Вікторович", "Вікторівна", "Викторович", "Викторовна"),
    ("Анатолій", "Анатолий", "Anatoly", "Анатолійович", "Анатоліївна", "Анатольевич", "Анатольевна"),
    ("Олексій", "Алексей", "Alexei", "Олексійович", "Олексіївна", "Алексеевич", "Алексеевна"),
    ("Віталій", "Виталий", "Vitaly", "Віталійович", "Віталіївна", "Витальевич", "Витальевна"),
    ("Валерій", "Валерий", "Valery", "Валерійович", "Валеріївна", "Валерьевич", "Валерьевна"),
    ("Павло", "Павел", "Paul", "Павлович", "Павлівна", "Павлович", "Павловна"),
    ("Степан", "Степан", "Stepan", "Степанович", "Степанівна", "Степанович", "Степановна"),
    ("Яків", "Яков", "Jacob", "Якович", "Яківна", "Яковлевич", "Яковлевна"),
    ("Роман", "Роман", "Roman", "Романович", "Романівна", "Романович", "Романовна"),
    ("Ігор", "Игорь", "Igor", "Ігорович", "Ігорівна", "Игоревич", "Игоревна"),
    ("Олег", "Олег", "Oleg", "Олегович", "Олегівна", "Олегович", "Олеговна"),
    ("Костянтин", "Константин", "Konstantin", "Костянтинович", "Костянтинівна", "Константинович", "Константиновна"),
    ("Максим", "Максим", "Maxim", "Максимович", "Максимівна", "Максимович", "Максимовна"),
    ("Богдан", "Богдан", "Bogdan", "Богданович", "Богданівна", "Богданович", "Богдановна"),
    ("Тарас", "Тарас", "Taras", "Тарасович", "Тарасівна", "Тарасович", "Тарасовна"),
    ("Борис", "Борис", "Boris", "Борисович", "Борисівна", "Борисович", "Борисовна"),
    ("Леонід", "Леонид", "Leonid", "Леонідович", "Леонідівна", "Леонидович", "Леонидовна"),
    ("Геннадій", "Геннадий", "Gennady", "Геннадійович", "Геннадіївна", "Геннадьевич", "Геннадьевна"),
    ("Ярослав", "Ярослав", "Yaroslav", "Ярославович", "Ярославівна", "Ярославович", "Ярославовна"),
    ("Руслан", "Руслан", "Ruslan", "Русланович", "Русланівна", "Русланович", "Руслановна"),
    ("Кирило", "Кирилл", "Kirill", "Кирилович", "Кирилівна", "Кириллович", "Кирилловна"),
    ("Ілля", "Илья", "Ilya", "Ілліч", "Іллівна", "Ильич", "Ильинична"),
    ("Артем", "Артём", "Artem", "Артемович", "Артемівна", "Артёмович", "Артёмовна"),
    ("Денис", "Денис", "Denis", "Денисович", "Денисівна", "Денисович", "Денисовна"),
    ("Вадим", "Вадим", "Vadim", "Вадимович", "Вадимівна", "Вадимович", "Вадимовна"),
    ("Назар", "Назар", "Nazar", "Назарович", "Назарівна", "Назарович", "Назаровна"),
]
FEMALE = [
    ("Олена", "Елена", "Helen"), ("Ганна", "Анна", "Anna"), ("Наталія", "Наталья", "Natalia"),
    ("Юлія", "Юлия", "Julia"), ("Ірина", "Ирина", "Irina"), ("Тетяна", "Татьяна", "Tatiana"),
    ("Людмила", "Людмила", "Ludmila"), ("Світлана", "Светлана", "Svetlana"), ("Оксана", "Оксана", "Oksana"),
    ("Ольга", "Ольга", "Olga"), ("Марія", "Мария", "Maria"), ("Катерина", "Екатерина", "Catherine"),
    ("Валентина", "Валентина", "Valentina"), ("Галина", "Галина", "Galina"), ("Надія", "Надежда", "Nadezhda"),
    ("Віра", "Вера", "Vera"), ("Любов", "Любовь", "Lyubov"), ("Лариса", "Лариса", "Larisa"),
    ("Тамара", "Тамара", "Tamara"), ("Ніна", "Нина", "Nina"), ("Софія", "Софья", "Sophia"),
    ("Дарина", "Дарья", "Daria"), ("Анастасія", "Анастасия", "Anastasia"), ("Вікторія", "Виктория", "Victoria"),
    ("Алла", "Алла", "Alla"), ("Інна", "Инна", "Inna"), ("Яна", "Яна", "Yana"),
    ("Христина", "Кристина", "Christina"), ("Євгенія", "Евгения", "Eugenia"), ("Аліна", "Алина", "Alina"),
    ("Марина", "Марина", "Marina"), ("Лідія", "Лидия", "Lydia"), ("Зоя", "Зоя", "Zoya"),
    ("Поліна", "Полина", "Polina"), ("Ксенія", "Ксения", "Ksenia"), ("Уляна", "Ульяна", "Uliana"),
]
# Invented surname roots (Ukrainian, Russian spelling) and suffixes
# (UA masc, UA fem, RU masc, RU fem).
ROOTS = [("Біл", "Бел"), ("Сір", "Сер"), ("Лис", "Лыс"), ("Гай", "Гай"), ("Дуб", "Дуб"), ("Кос", "Кос"),
         ("Бал", "Бал"), ("Сав", "Сав"), ("Мир", "Мир"), ("Вер", "Вер"), ("Кул", "Кул"), ("Пан", "Пан"),
         ("Зар", "Зар"), ("Лоз", "Лоз"), ("Степ", "Степ"), ("Рад", "Рад"), ("Яр", "Яр"), ("Гор", "Гор"),
         ("Ков", "Ков"), ("Шев", "Шев"), ("Ткач", "Ткач"), ("Бонд", "Бонд"), ("Мель", "Мель"),
         ("Кравц", "Кравц"), ("Олійн", "Олейн"), ("Гриц", "Гриц"), ("Тим", "Тим"), ("Хом", "Хом"),
         ("Дорош", "Дорош"), ("Гнід", "Гнед"), ("Вовч", "Волч"), ("Голуб", "Голуб"), ("Жур", "Жур"),
         ("Чорн", "Черн"), ("Щерб", "Щерб"), ("Ярем", "Ярем"), ("Оліфір", "Олифир"), ("Юрч", "Юрч"),
         ("Їжак", "Ежак"), ("Євтух", "Евтух"), ("Гречан", "Гречан"), ("Тереш", "Терещ"), ("Приход", "Приход"),
         ("Зінь", "Зин"), ("Підгір", "Подгор"), ("Кліщ", "Клещ"), ("Ніж", "Неж"), ("Хміл", "Хмел")]
MIDDLES = [("", ""), ("ан", "ан"), ("ен", "ен"), ("ик", "ик"), ("ич", "ич"), ("ов", "ов"), ("уш", "уш"), ("ин", "ин")]
SUFFIXES = [("енко", "енко", "енко", "енко"), ("чук", "чук", "чук", "чук"), ("ук", "ук", "ук", "ук"),
            ("ишин", "ишина", "ышин", "ышина"), ("ський", "ська", "ский", "ская"), ("ов", "ова", "ов", "ова"),
            ("ник", "ник", "ник", "ник"), ("як", "як", "як", "як"), ("ець", "ець", "ец", "ец"), ("ич", "ич", "ич", "ич")]
# Places: Ukrainian, Russian, KMU-2010 Latin, traditional Russian-based Latin.
PLACES = [("Київ", "Киев", "Kyiv", "Kiev"), ("Харків", "Харьков", "Kharkiv", "Kharkov"),
          ("Одеса", "Одесса", "Odesa", "Odessa"), ("Дніпро", "Днепр", "Dnipro", "Dnepr"),
          ("Львів", "Львов", "Lviv", "Lvov"), ("Запоріжжя", "Запорожье", "Zaporizhzhia", "Zaporozhye"),
          ("Миколаїв", "Николаев", "Mykolaiv", "Nikolaev"), ("Херсон", "Херсон", "Kherson", "Kherson"),
          ("Маріуполь", "Мариуполь", "Mariupol", "Mariupol"), ("Донецьк", "Донецк", "Donetsk", "Donetsk"),
          ("Луганськ", "Луганск", "Luhansk", "Lugansk"), ("Чернігів", "Чернигов", "Chernihiv", "Chernigov"),
          ("Суми", "Сумы", "Sumy", "Sumy"), ("Полтава", "Полтава", "Poltava", "Poltava"),
          ("Вінниця", "Винница", "Vinnytsia", "Vinnitsa"), ("Житомир", "Житомир", "Zhytomyr", "Zhitomir"),
          ("Черкаси", "Черкассы", "Cherkasy", "Cherkassy"), ("Рівне", "Ровно", "Rivne", "Rovno"),
          ("Тернопіль", "Тернополь", "Ternopil", "Ternopol"), ("Ізюм", "Изюм", "Izium", "Izyum"),
          ("Мелітополь", "Мелитополь", "Melitopol", "Melitopol"), ("Бердянськ", "Бердянск", "Berdiansk", "Berdyansk"),
          ("Краматорськ", "Краматорск", "Kramatorsk", "Kramatorsk"), ("Кременчук", "Кременчуг", "Kremenchuk", "Kremenchug"),
          ("Кривий Ріг", "Кривой Рог", "Kryvyi Rih", "Krivoy Rog"), ("Біла Церква", "Белая Церковь", "Bila Tserkva", "Belaya Tserkov")]


def typo(rng, s):
    if len(s) < 3:
        return s
    i = rng.randrange(1, len(s))
    op = rng.random()
    letters = "аеиоукнрстлвдмпзбгяшщхцч" if any("а" <= c.lower() <= "я" or c in "іїєґ" for c in s) else "aeioukrnstlvdmpzbgh"
    if op < 0.3:
        return s[:i] + s[i + 1:]
    if op < 0.55:
        return s[:i] + rng.choice(letters) + s[i:]
    if op < 0.8:
        return s[:i] + rng.choice(letters) + s[i + 1:]
    if i + 1 < len(s):
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]
    return s


def make_people(rng, n):
    people = []
    while len(people) < n:
        if people and rng.random() < 0.15:
            # A sibling: same surname, father and birthplace, another name and date.
            sib = people[rng.randrange(len(people))]
            person = dict(sib)
            sex = rng.choice("MF")
            person["sex"] = sex
            person["given"] = rng.randrange(len(MALE) if sex == "M" else len(FEMALE))
            person["year"] = min(2005, max(1950, sib["year"] + rng.randint(-10, 10)))
            person["month"], person["day"] = rng.randint(1, 12), rng.randint(1, 28)
        else:
            sex = rng.choice("MF")
            person = {"sex": sex,
                      "given": rng.randrange(len(MALE) if sex == "M" else len(FEMALE)),
                      "father": rng.randrange(len(MALE)),
                      "surname": (rng.randrange(len(ROOTS)), rng.randrange(len(MIDDLES)), rng.randrange(len(SUFFIXES))),
                      "year": rng.randint(1950, 2005), "month": rng.randint(1, 12), "day": rng.randint(1, 28),
                      "place": rng.randrange(len(PLACES))}
        person["pid"] = len(people)
        people.append(person)
    return people


def names(person):
    """(UA family, given, patronymic), (RU family, given, patronymic), English given."""
    r, m, s = person["surname"]
    fem = person["sex"] == "F"
    suffix = SUFFIXES[s]
    ua_family = ROOTS[r][0] + MIDDLES[m][0] + (suffix[1] if fem else suffix[0])
    ru_family = ROOTS[r][1] + MIDDLES[m][1] + (suffix[3] if fem else suffix[2])
    father = MALE[person["father"]]
    if fem:
        g = FEMALE[person["given"]]
        ua_pat, ru_pat = father[4], father[6]
    else:
        g = MALE[person["given"]]
        ua_pat, ru_pat = father[3], father[5]
    return (ua_family, g[0], ua_pat), (ru_family, g[1], ru_pat), g[2]


def ukrainian_record(rng, person):
    (family, given, pat), _, _ = names(person)
    place = PLACES[person["place"]]
    latin = rng.random() < 0.35
    if latin:
        family, given, pat = (translit(x, "kmu") for x in (family, given, pat))
        if rng.random() < 0.5:
            family, given, pat = family.upper(), given.upper(), pat.upper()
        place_name = place[2]
    else:
        place_name = place[0]
    if rng.random() < 0.04:
        family = typo(rng, family)
    if rng.random() < 0.03:
        given = typo(rng, given)
    if rng.random() < 0.05:
        pat = ""
    date = f"{person['day']:02d}.{person['month']:02d}.{person['year']}"
    if rng.random() < 0.05:
        place_name = ""
    return [family, given, pat, date, place_name]


def russian_record(rng, person):
    (ua_family, ua_given, ua_pat), (family, given, pat), english = names(person)
    place = PLACES[person["place"]]
    style = rng.random()
    if style < 0.40:
        place_name = place[1]
    elif style < 0.60:
        family, given, pat = (translit(x, "icao") for x in (family, given, pat))
        place_name = place[3]
    elif style < 0.70:
        family, given, pat = (translit(x, "tc") for x in (family, given, pat))
        place_name = translit(place[1], "tc")
    elif style < 0.80:
        family, given, pat = (translit(x, "y") for x in (family, given, pat))
        place_name = place[3]
    elif style < 0.90:
        family, pat = translit(family, "y"), translit(pat, "y")
        given = english
        place_name = place[3]
    else:
        family, given, pat = ua_family, ua_given, ua_pat
        place_name = place[0]
    if style >= 0.40 and rng.random() < 0.5:
        family, given, pat = family.upper(), given.upper(), pat.upper()
    if rng.random() < 0.08:
        family = typo(rng, family)
    if rng.random() < 0.05:
        given = typo(rng, given)
    if rng.random() < 0.05:
        pat = typo(rng, pat)
    if rng.random() < 0.20:
        pat = ""
    if rng.random() < 0.04:
        family, given = given, family
    y, m, d = person["year"], person["month"], person["day"]
    u = rng.random()
    if u < 0.04 and d <= 12:
        m, d = d, m
    elif u < 0.07:
        y += rng.choice((-1, 1))
    elif u < 0.10:
        d = min(28, max(1, d + rng.choice((-1, 1, 10, -10))))
    fmt = rng.random()
    if rng.random() < 0.05:
        date = str(y)
    elif rng.random() < 0.02:
        date = ""
    elif fmt < 0.5:
        date = f"{y}-{m:02d}-{d:02d}"
    elif fmt < 0.8:
        date = f"{d:02d}.{m:02d}.{y}"
    else:
        date = f"{d}/{m}/{y}"
    if rng.random() < 0.10:
        place_name = ""
    return [family, given, pat, date, place_name]


def main():
    out = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    rng = random.Random(seed)
    people = make_people(rng, n)
    # Each side holds three quarters of the people; about 56% are on both.
    left_people = rng.sample(people, n * 3 // 4)
    right_people = rng.sample(people, n * 3 // 4)
    out.mkdir(parents=True, exist_ok=True)
    header = ["id", "family_name", "given_name", "patronymic", "date_of_birth", "place_of_birth"]
    left_ids, right_ids = {}, {}
    for side, chosen, make, ids, prefix in [("left", left_people, ukrainian_record, left_ids, "U"),
                                           ("right", right_people, russian_record, right_ids, "R")]:
        with open(out / f"{side}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            for k, person in enumerate(chosen):
                rid = f"{prefix}{k:06d}"
                ids[person["pid"]] = rid
                w.writerow([rid] + make(rng, person))
    with open(out / "truth.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["left_id", "right_id"])
        for pid, lid in left_ids.items():
            if pid in right_ids:
                w.writerow([lid, right_ids[pid]])


if __name__ == "__main__":
    main()
