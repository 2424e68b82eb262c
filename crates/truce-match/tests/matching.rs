//! Behaviour of truce-match through its public interface: transliteration
//! against the standards' own examples, the dictionary, scoring properties,
//! end-to-end linking of a cross-script list, incremental use and the CLI.
//! Every person here is invented.

use std::collections::HashSet;

use proptest::prelude::*;
use truce_match::dictionary::{self, GIVEN_NAMES, PLACES};
use truce_match::model::Model;
use truce_match::translit::{Standard, spelling_key, transliterate};
use truce_match::{Link, MatchArgs, Matcher, Record, Schema, Settings};

fn check_examples(standard: Standard, examples: &[(&str, &str)]) {
    for (cyrillic, latin) in examples {
        assert_eq!(
            transliterate(cyrillic, standard),
            *latin,
            "{standard:?}: {cyrillic}"
        );
    }
}

/// Examples printed in the table of Cabinet of Ministers resolution no. 55
/// (27 January 2010).
#[test]
fn kmu_2010_examples_from_the_resolution() {
    check_examples(
        Standard::Kmu2010,
        &[
            ("Алушта", "Alushta"),
            ("Андрій", "Andrii"),
            ("Борщагівка", "Borshchahivka"),
            ("Борисенко", "Borysenko"),
            ("Вінниця", "Vinnytsia"),
            ("Володимир", "Volodymyr"),
            ("Гадяч", "Hadiach"),
            ("Богдан", "Bohdan"),
            ("Згурський", "Zghurskyi"),
            ("Ґалаґан", "Galagan"),
            ("Ґорґани", "Gorgany"),
            ("Донецьк", "Donetsk"),
            ("Дмитро", "Dmytro"),
            ("Рівне", "Rivne"),
            ("Олег", "Oleh"),
            ("Есмань", "Esman"),
            ("Єнакієве", "Yenakiieve"),
            ("Гаєвич", "Haievych"),
            ("Короп'є", "Koropie"),
            ("Житомир", "Zhytomyr"),
            ("Жанна", "Zhanna"),
            ("Жежелів", "Zhezheliv"),
            ("Закарпаття", "Zakarpattia"),
            ("Казимирчук", "Kazymyrchuk"),
            ("Медвин", "Medvyn"),
            ("Михайленко", "Mykhailenko"),
            ("Іванків", "Ivankiv"),
            ("Іващенко", "Ivashchenko"),
            ("Їжакевич", "Yizhakevych"),
            ("Кадиївка", "Kadyivka"),
            ("Мар'їне", "Marine"),
            ("Йосипівка", "Yosypivka"),
            ("Стрий", "Stryi"),
            ("Олексій", "Oleksii"),
            ("Київ", "Kyiv"),
            ("Коваленко", "Kovalenko"),
            ("Лебедин", "Lebedyn"),
            ("Леонід", "Leonid"),
            ("Миколаїв", "Mykolaiv"),
            ("Маринич", "Marynych"),
            ("Ніжин", "Nizhyn"),
            ("Наталія", "Nataliia"),
            ("Одеса", "Odesa"),
            ("Онищенко", "Onyshchenko"),
            ("Полтава", "Poltava"),
            ("Петро", "Petro"),
            ("Решетилівка", "Reshetylivka"),
            ("Рибчинський", "Rybchynskyi"),
            ("Суми", "Sumy"),
            ("Соломія", "Solomiia"),
            ("Тернопіль", "Ternopil"),
            ("Троць", "Trots"),
            ("Ужгород", "Uzhhorod"),
            ("Уляна", "Uliana"),
            ("Фастів", "Fastiv"),
            ("Філіпчук", "Filipchuk"),
            ("Харків", "Kharkiv"),
            ("Христина", "Khrystyna"),
            ("Біла Церква", "Bila Tserkva"),
            ("Стеценко", "Stetsenko"),
            ("Чернівці", "Chernivtsi"),
            ("Шевченко", "Shevchenko"),
            ("Шостка", "Shostka"),
            ("Кишеньки", "Kyshenky"),
            ("Щербухи", "Shcherbukhy"),
            ("Гоща", "Hoshcha"),
            ("Гаращенко", "Harashchenko"),
            ("Юрій", "Yurii"),
            ("Корюківка", "Koriukivka"),
            ("Яготин", "Yahotyn"),
            ("Ярошенко", "Yaroshenko"),
            ("Костянтин", "Kostiantyn"),
            ("Знам'янка", "Znamianka"),
            ("Феодосія", "Feodosiia"),
            ("Розгон", "Rozghon"),
        ],
    );
}

/// ICAO Doc 9303 table as used in Russian passports since 2014.
#[test]
fn icao_2014_examples() {
    check_examples(
        Standard::Icao2014,
        &[
            ("Александр", "Aleksandr"),
            ("Григорьевич", "Grigorevich"),
            ("Юлия", "Iuliia"),
            ("Андрей", "Andrei"),
            ("Пётр", "Petr"),
            ("Щукин", "Shchukin"),
            ("Объедков", "Obieedkov"),
            ("Цветков", "Tsvetkov"),
            ("Хрущёв", "Khrushchev"),
            ("Наталья", "Natalia"),
            ("Дмитрий", "Dmitrii"),
            ("Майя", "Maiia"),
            ("Эдуард", "Eduard"),
            ("Татьяна", "Tatiana"),
            ("Ковальская", "Kovalskaia"),
        ],
    );
}

/// FMS order no. 26 of 2010: ц as "tc", ъ dropped.
#[test]
fn russia_2010_tc_examples() {
    check_examples(
        Standard::Russia2010,
        &[
            ("Цветков", "Tcvetkov"),
            ("Объедков", "Obedkov"),
            ("Юлия", "Iuliia"),
            ("Андрей", "Andrei"),
            ("Кузнецова", "Kuznetcova"),
        ],
    );
}

/// MVD order no. 310 of 1997: й, ю, я with "y"; е as "ye" after vowels and
/// soft signs and at the start.
#[test]
fn russia_pre_2010_y_examples() {
    check_examples(
        Standard::RussiaPre2010,
        &[
            ("Юрий", "Yuriy"),
            ("Андрей", "Andrey"),
            ("Юлия", "Yuliya"),
            ("Елена", "Yelena"),
            ("Майя", "Mayya"),
            ("Сергеевич", "Sergeyevich"),
            ("Алексей", "Aleksey"),
            ("Соловьёв", "Solovyev"),
            ("Цветков", "Tsvetkov"),
        ],
    );
}

#[test]
fn every_system_meets_on_the_spelling_key() {
    let groups: &[&[&str]] = &[
        &["Харків", "Kharkiv", "KHARKIV"],
        &["Харьков", "Kharkov", "KHARKOV"],
        &["Євген", "Yevhen", "Ievgen", "Evgen"],
        &["Юрій", "Юрий", "Yurii", "Iurii", "Yuriy", "Yury"],
        &["Цветков", "Tsvetkov", "Tcvetkov", "Tzvetkov"],
        &["Андрій", "Андрей", "Andrii", "Andrei", "Andrey"],
        &["Олійник", "Олейник", "Oliinyk", "Oleinik", "Oleynik"],
        &["Сергій", "Сергей", "Serhii", "Sergei", "Sergey", "Serhiy"],
        &[
            "Наталія",
            "Наталья",
            "Nataliia",
            "Natalia",
            "Natalya",
            "Natalja",
        ],
        &[
            "Ковальська",
            "Ковальская",
            "Kovalska",
            "Kovalskaia",
            "Kovalskaya",
        ],
        &[
            "В'ячеслав",
            "Вʼячеслав",
            "В’ячеслав",
            "Viacheslav",
            "Vyacheslav",
        ],
        &["Щербина", "Shcherbyna", "Shcherbina", "Scherbina"],
    ];
    for group in groups {
        let first = spelling_key(group[0]);
        for form in *group {
            assert_eq!(spelling_key(form), first, "{form} vs {}", group[0]);
        }
    }
    assert_ne!(spelling_key("Егор"), spelling_key("Игорь"));
    assert_ne!(spelling_key("Petrenko"), spelling_key("Petrychenko"));
}

#[test]
fn given_names_round_trip_through_every_romanisation() {
    for (id, entry) in GIVEN_NAMES.iter().enumerate() {
        for form in [entry.ukrainian, entry.russian] {
            for standard in Standard::ALL {
                let latin = transliterate(form, standard);
                assert_eq!(
                    dictionary::given_name_id(&latin).map(usize::from),
                    Some(id),
                    "{form} as {latin} ({standard:?})"
                );
            }
        }
    }
}

#[test]
fn named_equivalences_hold() {
    let same = |a: &str, b: &str| {
        let (x, y) = (dictionary::given_name_id(a), dictionary::given_name_id(b));
        assert!(x.is_some() && x == y, "{a} = {b}");
    };
    for (a, b) in [
        ("Олександр", "Александр"),
        ("Олександр", "Alexander"),
        ("Oleksandr", "ALEKSANDR"),
        ("Андрій", "Андрей"),
        ("Микола", "Николай"),
        ("Mykola", "Nikolay"),
        ("Петро", "Пётр"),
        ("Петро", "Петр"),
        ("Федір", "Фёдор"),
        ("Fedir", "Fyodor"),
        ("Сергій", "Sergei"),
        ("Ганна", "Анна"),
        ("Hanna", "Anna"),
    ] {
        same(a, b);
    }
    assert_ne!(
        dictionary::given_name_id("Олександр"),
        dictionary::given_name_id("Олександра")
    );
    assert_ne!(
        dictionary::given_name_id("Алёна"),
        dictionary::given_name_id("Алина")
    );
    assert_eq!(dictionary::given_name_id("Zzyzx"), None);
}

#[test]
fn places_round_trip() {
    for (id, forms) in PLACES.iter().enumerate() {
        for form in forms.iter() {
            for standard in Standard::ALL {
                let latin = transliterate(form, standard);
                assert_eq!(
                    dictionary::place_id(&latin).map(usize::from),
                    Some(id),
                    "{form} as {latin}"
                );
            }
        }
    }
    let kharkiv = dictionary::place_id("Харків");
    for form in [
        "Харьков",
        "Kharkiv",
        "Kharkov",
        "м. Харків",
        "г. Харьков",
        "Kharkiv, Ukraine",
    ] {
        assert_eq!(dictionary::place_id(form), kharkiv, "{form}");
    }
}

/// A matcher with a fixed, plausible model (better levels are more likely
/// among matches) and no lists, for scoring single pairs.
fn fixed_matcher() -> Matcher {
    let schema = Schema::default();
    let levels: Vec<usize> = schema.fields.iter().map(|f| f.kind.level_count()).collect();
    let u: Vec<Vec<f64>> = levels
        .iter()
        .map(|&n| {
            let raw: Vec<f64> = (0..n).map(|l| 0.01 * 3f64.powi(l as i32)).collect();
            let total: f64 = raw.iter().sum();
            raw.iter().map(|p| p / total).collect()
        })
        .collect();
    let model = Model::initial(&levels, u, 0.001);
    Matcher::new(
        schema,
        Settings::default(),
        vec![],
        vec![],
        Some(model),
        &|_| {},
    )
    .expect("model fits")
}

fn person(id: &str, fields: [&str; 5]) -> Record {
    Record {
        id: id.to_string(),
        fields: fields.iter().map(|s| s.to_string()).collect(),
    }
}

fn score(matcher: &mut Matcher, a: [&str; 5], b: [&str; 5]) -> Link {
    matcher.score_pair(&person("a", a), &person("b", b))
}

const SURNAMES: &[&str] = &[
    "Kovalchuk",
    "Moroz",
    "Lysenko",
    "Bilous",
    "Hrytsai",
    "Zhuravel",
    "Ostapiuk",
    "Danylyshyn",
    "Tymoshchuk",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_typo_costs_less_than_a_different_name(
        name in 0..SURNAMES.len(),
        other in 0..SURNAMES.len(),
        position in 2usize..5,
        letter in proptest::char::range('a', 'z'),
    ) {
        prop_assume!(name != other);
        let mut matcher = fixed_matcher();
        let base = SURNAMES[name];
        let mut typo: Vec<char> = base.chars().collect();
        prop_assume!(typo[position].to_ascii_lowercase() != letter);
        typo[position] = letter;
        let typo: String = typo.into_iter().collect();
        let rest = ["Petro", "Ivanovych", "12.03.1981", "Poltava"];
        fn with<'a>(family: &'a str, rest: [&'a str; 4]) -> [&'a str; 5] {
            [family, rest[0], rest[1], rest[2], rest[3]]
        }
        let typo_score = score(&mut matcher, with(base, rest), with(&typo, rest)).score;
        let other_score = score(&mut matcher, with(base, rest), with(SURNAMES[other], rest)).score;
        prop_assert!(typo_score > other_score, "{base}/{typo}: {typo_score} vs {}: {other_score}", SURNAMES[other]);
    }

    #[test]
    fn swapped_day_and_month_cost_less_than_a_different_date(
        day in 1u32..=12,
        month in 1u32..=12,
        year in 1940u32..2005,
        shift in 2u32..30,
    ) {
        prop_assume!(day != month);
        let mut matcher = fixed_matcher();
        let date = format!("{day:02}.{month:02}.{year}");
        let swapped = format!("{year}-{day:02}-{month:02}");
        let different = format!("{:02}.{:02}.{}", (day + 13) % 28 + 1, month % 12 + 1, year + shift);
        let with = |d: &str| ["Moroz", "Olena", "Petrivna", d, "Sumy"].map(str::to_string);
        let base = with(&date);
        let s = |m: &mut Matcher, b: [String; 5]| {
            m.score_pair(&person("a", base.each_ref().map(String::as_str)), &person("b", b.each_ref().map(String::as_str))).score
        };
        let swapped_score = s(&mut matcher, with(&swapped));
        let different_score = s(&mut matcher, with(&different));
        let year_only_score = s(&mut matcher, with(&year.to_string()));
        prop_assert!(swapped_score > different_score);
        prop_assert!(year_only_score > different_score);
    }
}

#[test]
fn given_and_family_swap_still_matches() {
    let mut matcher = fixed_matcher();
    let link = score(
        &mut matcher,
        ["Шевчук", "Тарас", "Богданович", "05.02.1978", "Житомир"],
        ["Taras", "Shevchuk", "Bogdanovich", "1978-02-05", "Zhitomir"],
    );
    assert!(link.score > 0.99, "{link:?}");
    assert!(link.explanation.contains("swapped"), "{}", link.explanation);
    let unrelated = score(
        &mut matcher,
        ["Шевчук", "Тарас", "Богданович", "05.02.1978", "Житомир"],
        ["Ivan", "Moroz", "Petrovich", "1961-11-23", "Kherson"],
    );
    assert!(unrelated.score < 0.01, "{unrelated:?}");
}

#[test]
fn explanations_name_fields_and_never_values() {
    let mut matcher = fixed_matcher();
    let link = score(
        &mut matcher,
        [
            "Олійник",
            "Олександр",
            "Миколайович",
            "05.02.1978",
            "Харків",
        ],
        [
            "OLEINIK",
            "ALEKSANDR",
            "NIKOLAEVICH",
            "1978-05-02",
            "Kharkov",
        ],
    );
    assert!(link.score > 0.5, "{link:?}");
    for expected in [
        "family_name same after transliteration",
        "given_name dictionary equivalent",
        "patronymic dictionary equivalent",
        "date_of_birth day and month swapped",
        "place_of_birth same place",
    ] {
        assert!(
            link.explanation.contains(expected),
            "{expected} in {}",
            link.explanation
        );
    }
    for value in ["Олійник", "OLEINIK", "1978", "Kharkov", "Олександр"] {
        assert!(!link.explanation.contains(value));
    }
}

/// Invented people: dictionary given names and patronymics, surnames from
/// invented roots, written in Ukrainian Cyrillic on the left and in Russian
/// forms romanised by ICAO on the right, some with day and month swapped,
/// some with a typo, some with the patronymic missing.
fn cross_script_lists(people: usize) -> (Vec<Record>, Vec<Record>, HashSet<(String, String)>) {
    let roots = [
        "Гайд",
        "Бровч",
        "Мирош",
        "Коростел",
        "Дзюб",
        "Тупчі",
        "Радзі",
        "Шуляк",
        "Ковт",
        "Пелех",
        "Ясін",
    ];
    let suffixes = ["енко", "ук", "ак", "ишин"];
    let men: Vec<_> = GIVEN_NAMES
        .iter()
        .filter(|e| !e.patronymics.is_empty())
        .collect();
    let places = [
        "Харків",
        "Суми",
        "Полтава",
        "Київ",
        "Одеса",
        "Львів",
        "Херсон",
    ];
    let ru_places = [
        "Харьков",
        "Сумы",
        "Полтава",
        "Киев",
        "Одесса",
        "Львов",
        "Херсон",
    ];
    let (mut left, mut right, mut truth) = (Vec::new(), Vec::new(), HashSet::new());
    let mut state = 12345u64;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % n as u64) as usize
    };
    for k in 0..people {
        let surname = format!(
            "{}{}",
            roots[next(roots.len())],
            suffixes[next(suffixes.len())]
        );
        let given = men[next(men.len())];
        let father = men[next(men.len())];
        let (day, month, year) = (1 + next(28), 1 + next(12), 1950 + next(50));
        let place = next(places.len());
        let ua_patronymic = father.patronymics[0];
        let ru_patronymic = father.patronymics[father.patronymics.len() - 1];
        left.push(Record {
            id: format!("L{k}"),
            fields: vec![
                surname.clone(),
                given.ukrainian.to_string(),
                ua_patronymic.to_string(),
                format!("{day:02}.{month:02}.{year}"),
                places[place].to_string(),
            ],
        });
        let mut ru_date = format!("{year}-{month:02}-{day:02}");
        if k % 10 == 3 && day <= 12 {
            ru_date = format!("{year}-{day:02}-{month:02}");
        }
        let mut family = transliterate(&surname, Standard::Icao2014).to_uppercase();
        if k % 10 == 5 {
            family.insert(3, 'E');
        }
        let patronymic = if k % 7 == 0 {
            String::new()
        } else {
            transliterate(ru_patronymic, Standard::Icao2014)
        };
        right.push(Record {
            id: format!("R{k}"),
            fields: vec![
                family,
                transliterate(given.russian, Standard::Icao2014),
                patronymic,
                ru_date,
                transliterate(ru_places[place], Standard::Icao2014),
            ],
        });
        truth.insert((format!("L{k}"), format!("R{k}")));
    }
    (left, right, truth)
}

fn f1(links: &[Link], truth: &HashSet<(String, String)>) -> f64 {
    let found: HashSet<(String, String)> = links
        .iter()
        .map(|l| (l.left_id.clone(), l.right_id.clone()))
        .collect();
    let tp = found.intersection(truth).count() as f64;
    2.0 * tp / (found.len() + truth.len()) as f64
}

/// A matcher with the default layout and settings, fitted by EM on the
/// two lists.
fn fitted(left: Vec<Record>, right: Vec<Record>) -> Matcher {
    Matcher::new(
        Schema::default(),
        Settings::default(),
        left,
        right,
        None,
        &|_| {},
    )
    .expect("no model given")
}

#[test]
fn links_cross_script_lists_end_to_end_with_em() {
    let (left, right, truth) = cross_script_lists(600);
    let mut matcher = fitted(left, right);
    let links = matcher.link(&|_| {});
    let score = f1(&links, &truth);
    assert!(score > 0.95, "F1 {score}");
    assert!(matcher.model().iterations > 0);
}

#[test]
fn incremental_matching_keeps_links_one_to_one() {
    let (left, right, truth) = cross_script_lists(600);
    let (first, later) = left.split_at(400);
    let mut matcher = fitted(first.to_vec(), right);
    let mut links = matcher.link(&|_| {});
    let first_count = links.len();
    let added = matcher.add_left(later.to_vec(), &|_| {});
    assert!(
        added
            .iter()
            .all(|l| later.iter().any(|r| r.id == l.left_id))
    );
    links.extend(added);
    assert!(
        links.len() > first_count + 180,
        "{} then {}",
        first_count,
        links.len()
    );
    let rights: HashSet<&str> = links.iter().map(|l| l.right_id.as_str()).collect();
    assert_eq!(rights.len(), links.len(), "a right record linked twice");
    assert!(f1(&links, &truth) > 0.95);
}

#[test]
fn right_records_added_later_link_to_waiting_left_records() {
    let (left, right, truth) = cross_script_lists(600);
    let (first, later) = right.split_at(350);
    let mut matcher = fitted(left, first.to_vec());
    let mut links = matcher.link(&|_| {});
    let added = matcher.add_right(later.to_vec(), &|_| {});
    assert!(
        added.len() > 200,
        "{} links to the added records",
        added.len()
    );
    assert!(
        added
            .iter()
            .all(|l| later.iter().any(|r| r.id == l.right_id))
    );
    links.extend(added);
    let lefts: HashSet<&str> = links.iter().map(|l| l.left_id.as_str()).collect();
    assert_eq!(lefts.len(), links.len(), "a left record linked twice");
    assert!(f1(&links, &truth) > 0.95);
}

fn args(left: &std::path::Path, right: &std::path::Path, output: &std::path::Path) -> MatchArgs {
    MatchArgs {
        left: left.to_path_buf(),
        right: right.to_path_buf(),
        output: Some(output.to_path_buf()),
        all: false,
        config: None,
        threshold: None,
        review_threshold: None,
        model: None,
        save_model: None,
        quiet: true,
    }
}

fn write_csv(path: &std::path::Path, records: &[Record], header: &str) {
    let mut text = format!("{header}\n");
    for r in records {
        let mut writer = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        let mut row = vec![r.id.clone()];
        row.extend(r.fields.iter().cloned());
        writer.write_record(&row).expect("in memory");
        text.push_str(&String::from_utf8(writer.into_inner().expect("in memory")).expect("utf-8"));
    }
    std::fs::write(path, text).expect("temp file");
}

const HEADER: &str = "id,family_name,given_name,patronymic,date_of_birth,place_of_birth";

#[test]
fn cli_writes_links_and_reuses_a_saved_model() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (left, right, truth) = cross_script_lists(300);
    let (l, r, out) = (
        dir.path().join("l.csv"),
        dir.path().join("r.csv"),
        dir.path().join("links.csv"),
    );
    write_csv(&l, &left, HEADER);
    write_csv(&r, &right, HEADER);
    let model = dir.path().join("model.json");
    let mut first = args(&l, &r, &out);
    first.save_model = Some(model.clone());
    truce_match::run(&first).expect("runs");
    let text = std::fs::read_to_string(&out).expect("written");
    assert!(text.starts_with("left_id,right_id,score,explanation\n"));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let found: HashSet<(String, String)> = reader
        .records()
        .map(|r| r.expect("valid"))
        .map(|r| (r[0].to_string(), r[1].to_string()))
        .collect();
    assert!(found.intersection(&truth).count() as f64 > 0.95 * truth.len() as f64);
    let mut second = args(&l, &r, &dir.path().join("again.csv"));
    second.model = Some(model);
    truce_match::run(&second).expect("runs with the saved model");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("again.csv")).expect("written"),
        text
    );
}

#[test]
fn malformed_csv_names_file_line_and_field_but_not_the_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (l, r, out) = (
        dir.path().join("left.csv"),
        dir.path().join("right.csv"),
        dir.path().join("o.csv"),
    );
    std::fs::write(
        &l,
        format!(
            "{HEADER}\n1,Мельник,Ірина,,01.01.1990,Київ\n2,Ткачук,Олег,Петрович,1980,Київ,extra\n"
        ),
    )
    .expect("temp file");
    std::fs::write(&r, format!("{HEADER}\n")).expect("temp file");
    let error = truce_match::run(&args(&l, &r, &out))
        .expect_err("line 3 has seven fields")
        .to_string();
    assert!(
        error.contains("left.csv") && error.contains("line 3"),
        "{error}"
    );
    assert!(!error.contains("Ткачук"), "{error}");
    std::fs::write(&l, "id,surname\n1,Мельник\n").expect("temp file");
    let error = truce_match::run(&args(&l, &r, &out))
        .expect_err("no family_name column")
        .to_string();
    assert!(error.contains("family_name"), "{error}");
    std::fs::write(&l, format!("{HEADER}\n,Мельник,Ірина,,01.01.1990,Київ\n")).expect("temp file");
    let error = truce_match::run(&args(&l, &r, &out))
        .expect_err("empty id")
        .to_string();
    assert!(
        error.contains("line 2") && error.contains("`id`"),
        "{error}"
    );
    // A byte that is not UTF-8 in the given name (column 3) of line 3; the
    // same text on line 2 is read once, the bad one still found.
    let mut bytes = format!("{HEADER}\n1,Мельник,Ірина,,1990,Київ\n2,Мельник,").into_bytes();
    bytes.extend_from_slice(b"\xff\xfe,,1990,\xd0\x9a\n");
    std::fs::write(&l, bytes).expect("temp file");
    let error = truce_match::run(&args(&l, &r, &out))
        .expect_err("not UTF-8")
        .to_string();
    assert!(
        error.contains("line 3") && error.contains("field 3") && error.contains("UTF-8"),
        "{error}"
    );
}

#[test]
fn a_config_file_maps_other_layouts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("layout.toml");
    std::fs::write(
        &config,
        "id = \"rec_id\"\n[columns]\nsurname = \"family_name\"\nfirst = \"given_name\"\ndob = \"date\"\ntown = \"place\"\npostcode = \"identifier\"\nstreet = \"text\"\nnote = \"ignore\"\n",
    )
    .expect("temp file");
    let header = "rec_id,first,surname,dob,town,postcode,street,note";
    let (l, r, out) = (
        dir.path().join("l.csv"),
        dir.path().join("r.csv"),
        dir.path().join("o.csv"),
    );
    std::fs::write(&l, format!("{header}\na1,mia,kowalczyk,19800212,bega,2550,high street,x\na2,tom,ardley,19751130,yass,2582,main road,y\n"))
        .expect("temp file");
    std::fs::write(&r, format!("{header}\nb1,mia,kowalcyzk,19800212,bega,2550,high street,z\nb2,sam,lorne,19620101,orange,2800,bank lane,w\n"))
        .expect("temp file");
    let mut a = args(&l, &r, &out);
    a.config = Some(config);
    a.all = true;
    truce_match::run(&a).expect("runs");
    let text = std::fs::read_to_string(&out).expect("written");
    assert!(
        text.lines().any(|line| line.starts_with("a1,b1,")),
        "{text}"
    );
    assert!(
        !text.lines().any(|line| line.starts_with("a2,b2,")),
        "{text}"
    );
}

/// Lists of one or two people give EM next to nothing to learn from; the
/// matcher then leans on a prior model, which still links one person
/// written in two scripts and keeps different people apart.
#[test]
fn tiny_lists_link_the_same_person_and_not_different_people() {
    let oleksandr = person("l1", ["Петренко", "Олександр", "", "1990-05-01", ""]);
    let aleksandr = person("r1", ["PETRENKO", "ALEKSANDR", "", "01.05.1990", ""]);
    let mariia = person(
        "l2",
        ["Шевченко", "Марія", "Іванівна", "23.11.1975", "Київ"],
    );
    let maria = person(
        "r2",
        ["SHEVCHENKO", "MARIIA", "IVANIVNA", "1975-11-23", "Kyiv"],
    );
    // Another Petrenko born the same year: blocking pairs him with
    // Oleksandr, the model must not link them.
    let ivan = person("r3", ["PETRENKO", "IVAN", "", "12.11.1990", "Odesa"]);
    let run = |left: Vec<Record>, right: Vec<Record>| {
        let mut matcher = fitted(left, right);
        let mut links: Vec<(String, String)> = matcher
            .link(&|_| {})
            .into_iter()
            .map(|l| (l.left_id, l.right_id))
            .collect();
        links.sort();
        (links, matcher.candidate_pair_count())
    };
    let pair = |l: &str, r: &str| (l.to_string(), r.to_string());
    let (links, _) = run(vec![oleksandr.clone()], vec![aleksandr.clone()]);
    assert_eq!(links, [pair("l1", "r1")]);
    let (links, _) = run(
        vec![oleksandr.clone(), mariia.clone()],
        vec![maria.clone(), aleksandr.clone()],
    );
    assert_eq!(links, [pair("l1", "r1"), pair("l2", "r2")]);
    let (links, candidates) = run(vec![oleksandr.clone()], vec![ivan.clone()]);
    assert_eq!(candidates, 1, "blocking proposes the pair");
    assert!(links.is_empty(), "{links:?}");
    let (links, _) = run(vec![oleksandr, mariia], vec![ivan, aleksandr]);
    assert_eq!(links, [pair("l1", "r1")]);
}
