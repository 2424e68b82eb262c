//! Curated Ukrainian-Russian-English equivalences of given names, patronymic
//! stems and places.
//!
//! No crate or open data set offers these, so the tables are written by hand.
//! Ukrainian forms follow the Ukrainian orthography (Український правопис,
//! 2019) and the name list of the Ukrainian Ministry of Justice registry
//! practice; Russian forms follow the Russian orthography and the patronymic
//! rules of Правила русской орфографии и пунктуации (1956, § 100); English
//! forms are the conventional anglicisations that appear in older documents
//! and foreign records. Entries are looked up through `spelling_key`, so a
//! Cyrillic form also covers every passport romanisation of it.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::normalize::normalize;
use crate::translit::{Standard, spelling_key, transliterate};

/// One given name in its Ukrainian, Russian and English forms, and for male
/// names the masculine patronymics derived from it.
pub struct NameEntry {
    pub ukrainian: &'static str,
    pub russian: &'static str,
    pub english: &'static str,
    /// Further spellings seen in documents (older romanisations, church or
    /// alternative forms).
    pub others: &'static [&'static str],
    /// Masculine patronymics, Ukrainian then Russian; empty for female names.
    pub patronymics: &'static [&'static str],
}

macro_rules! name {
    ($ua:literal, $ru:literal, $en:literal, [$($other:literal),*], [$($pat:literal),*]) => {
        NameEntry { ukrainian: $ua, russian: $ru, english: $en, others: &[$($other),*], patronymics: &[$($pat),*] }
    };
}

/// Given names. Ukrainian / Russian pairs per the orthographies cited above;
/// hand-written (no crate provides them).
pub static GIVEN_NAMES: &[NameEntry] = &[
    name!(
        "Олександр",
        "Александр",
        "Alexander",
        ["Alexandre", "Aleksander"],
        ["Олександрович", "Александрович"]
    ),
    name!(
        "Андрій",
        "Андрей",
        "Andrew",
        [],
        ["Андрійович", "Андреевич"]
    ),
    name!(
        "Микола",
        "Николай",
        "Nicholas",
        ["Nicolas"],
        ["Миколайович", "Николаевич"]
    ),
    name!("Петро", "Пётр", "Peter", ["Pyotr"], ["Петрович"]),
    name!(
        "Федір",
        "Фёдор",
        "Theodore",
        ["Fyodor", "Feodor"],
        ["Федорович", "Фёдорович"]
    ),
    name!(
        "Сергій",
        "Сергей",
        "Sergei",
        ["Serge"],
        ["Сергійович", "Сергеевич"]
    ),
    name!("Іван", "Иван", "John", [], ["Іванович", "Иванович"]),
    name!("Михайло", "Михаил", "Michael", [], ["Михайлович"]),
    name!(
        "Григорій",
        "Григорий",
        "Gregory",
        [],
        ["Григорович", "Григорьевич"]
    ),
    name!(
        "Дмитро",
        "Дмитрий",
        "Dmitry",
        [],
        ["Дмитрович", "Дмитриевич"]
    ),
    name!(
        "Євген",
        "Евгений",
        "Eugene",
        [],
        ["Євгенович", "Евгеньевич"]
    ),
    name!("Юрій", "Юрий", "Yuri", [], ["Юрійович", "Юрьевич"]),
    name!(
        "Володимир",
        "Владимир",
        "Vladimir",
        ["Wladimir", "Volodymyr"],
        ["Володимирович", "Владимирович"]
    ),
    name!(
        "Василь",
        "Василий",
        "Basil",
        ["Vasily", "Vassily"],
        ["Васильович", "Васильевич"]
    ),
    name!(
        "Віктор",
        "Виктор",
        "Victor",
        [],
        ["Вікторович", "Викторович"]
    ),
    name!(
        "Анатолій",
        "Анатолий",
        "Anatoly",
        [],
        ["Анатолійович", "Анатольевич"]
    ),
    name!(
        "Олексій",
        "Алексей",
        "Alexei",
        ["Alexey", "Aleksei"],
        ["Олексійович", "Алексеевич"]
    ),
    name!(
        "Віталій",
        "Виталий",
        "Vitaly",
        [],
        ["Віталійович", "Витальевич"]
    ),
    name!(
        "Валерій",
        "Валерий",
        "Valery",
        [],
        ["Валерійович", "Валерьевич"]
    ),
    name!("Вадим", "Вадим", "Vadim", [], ["Вадимович"]),
    name!("Богдан", "Богдан", "Bogdan", [], ["Богданович"]),
    name!("Тарас", "Тарас", "Taras", [], ["Тарасович"]),
    name!("Павло", "Павел", "Paul", [], ["Павлович"]),
    name!("Степан", "Степан", "Stephen", ["Stepan"], ["Степанович"]),
    name!(
        "Йосип",
        "Иосиф",
        "Joseph",
        ["Osip"],
        ["Йосипович", "Иосифович"]
    ),
    name!("Яків", "Яков", "Jacob", [], ["Якович", "Яковлевич"]),
    name!("Роман", "Роман", "Roman", [], ["Романович"]),
    name!("Ігор", "Игорь", "Igor", [], ["Ігорович", "Игоревич"]),
    name!("Олег", "Олег", "Oleg", [], ["Олегович"]),
    name!(
        "Костянтин",
        "Константин",
        "Constantine",
        ["Konstantin"],
        ["Костянтинович", "Константинович"]
    ),
    name!("Максим", "Максим", "Maxim", [], ["Максимович"]),
    name!("Денис", "Денис", "Denis", [], ["Денисович"]),
    name!(
        "Артем",
        "Артём",
        "Artem",
        ["Artyom"],
        ["Артемович", "Артёмович"]
    ),
    name!("Антон", "Антон", "Anton", [], ["Антонович"]),
    name!("Борис", "Борис", "Boris", [], ["Борисович"]),
    name!(
        "Леонід",
        "Леонид",
        "Leonid",
        [],
        ["Леонідович", "Леонидович"]
    ),
    name!(
        "Геннадій",
        "Геннадий",
        "Gennady",
        [],
        ["Геннадійович", "Геннадьевич"]
    ),
    name!("Валентин", "Валентин", "Valentin", [], ["Валентинович"]),
    name!("Ярослав", "Ярослав", "Yaroslav", [], ["Ярославович"]),
    name!(
        "Станіслав",
        "Станислав",
        "Stanislav",
        [],
        ["Станіславович", "Станиславович"]
    ),
    name!("Руслан", "Руслан", "Ruslan", [], ["Русланович"]),
    name!(
        "Тимофій",
        "Тимофей",
        "Timothy",
        [],
        ["Тимофійович", "Тимофеевич"]
    ),
    name!(
        "Матвій",
        "Матвей",
        "Matthew",
        [],
        ["Матвійович", "Матвеевич"]
    ),
    name!("Кирило", "Кирилл", "Cyril", [], ["Кирилович", "Кириллович"]),
    name!("Ілля", "Илья", "Elijah", ["Ilya"], ["Ілліч", "Ильич"]),
    name!(
        "Семен",
        "Семён",
        "Simon",
        ["Semyon"],
        ["Семенович", "Семёнович"]
    ),
    name!(
        "Аркадій",
        "Аркадий",
        "Arkady",
        [],
        ["Аркадійович", "Аркадьевич"]
    ),
    name!(
        "В'ячеслав",
        "Вячеслав",
        "Vyacheslav",
        [],
        ["В'ячеславович", "Вячеславович"]
    ),
    name!(
        "Данило",
        "Даниил",
        "Daniel",
        ["Danila"],
        ["Данилович", "Даниилович"]
    ),
    name!("Захар", "Захар", "Zachary", [], ["Захарович"]),
    name!("Назар", "Назар", "Nazar", [], ["Назарович"]),
    name!("Остап", "Остап", "Ostap", [], ["Остапович"]),
    name!(
        "Георгій",
        "Георгий",
        "George",
        [],
        ["Георгійович", "Георгиевич"]
    ),
    name!("Ростислав", "Ростислав", "Rostislav", [], ["Ростиславович"]),
    name!(
        "Святослав",
        "Святослав",
        "Sviatoslav",
        [],
        ["Святославович"]
    ),
    name!(
        "Едуард",
        "Эдуард",
        "Edward",
        ["Eduard"],
        ["Едуардович", "Эдуардович"]
    ),
    name!("Владислав", "Владислав", "Vladislav", [], ["Владиславович"]),
    name!("Лев", "Лев", "Leo", [], ["Львович"]),
    name!("Тимур", "Тимур", "Timur", [], ["Тимурович"]),
    name!("Микита", "Никита", "Nikita", [], ["Микитович", "Никитич"]),
    name!("Гліб", "Глеб", "Gleb", [], ["Глібович", "Глебович"]),
    name!(
        "Пилип",
        "Филипп",
        "Philip",
        ["Filip"],
        ["Пилипович", "Филиппович"]
    ),
    name!("Марко", "Марк", "Mark", [], ["Маркович"]),
    name!(
        "Арсеній",
        "Арсений",
        "Arseny",
        [],
        ["Арсенійович", "Арсеньевич"]
    ),
    name!("Всеволод", "Всеволод", "Vsevolod", [], ["Всеволодович"]),
    name!(
        "Зиновій",
        "Зиновий",
        "Zinovy",
        [],
        ["Зиновійович", "Зиновьевич"]
    ),
    name!(
        "Панас",
        "Афанасий",
        "Athanasius",
        ["Afanasy"],
        ["Панасович", "Афанасьевич"]
    ),
    name!(
        "Омелян",
        "Емельян",
        "Emelian",
        [],
        ["Омелянович", "Емельянович"]
    ),
    name!("Харитон", "Харитон", "Khariton", [], ["Харитонович"]),
    name!("Мирослав", "Мирослав", "Miroslav", [], ["Мирославович"]),
    name!("Олесь", "Олесь", "Oles", [], ["Олесевич"]),
    name!(
        "Ілларіон",
        "Илларион",
        "Hilarion",
        ["Illarion"],
        ["Ілларіонович", "Илларионович"]
    ),
    name!("Єгор", "Егор", "Egor", ["Yegor"], ["Єгорович", "Егорович"]),
    name!(
        "Вікентій",
        "Викентий",
        "Vincent",
        [],
        ["Вікентійович", "Викентьевич"]
    ),
    name!("Олена", "Елена", "Helen", ["Helena"], []),
    name!("Ганна", "Анна", "Anna", ["Ann", "Anne"], []),
    name!("Наталія", "Наталья", "Natalia", ["Наталия", "Natalie"], []),
    name!("Юлія", "Юлия", "Julia", [], []),
    name!("Ірина", "Ирина", "Irene", [], []),
    name!("Тетяна", "Татьяна", "Tatiana", [], []),
    name!("Людмила", "Людмила", "Ludmila", ["Ludmilla"], []),
    name!("Світлана", "Светлана", "Svetlana", [], []),
    name!("Оксана", "Оксана", "Oksana", [], []),
    name!("Ольга", "Ольга", "Olga", [], []),
    name!("Марія", "Мария", "Mary", ["Maria"], []),
    name!("Катерина", "Екатерина", "Catherine", ["Katherine"], []),
    name!("Валентина", "Валентина", "Valentina", [], []),
    name!("Галина", "Галина", "Galina", [], []),
    name!("Надія", "Надежда", "Nadezhda", [], []),
    name!("Віра", "Вера", "Vera", [], []),
    name!("Любов", "Любовь", "Lyubov", [], []),
    name!("Лариса", "Лариса", "Larisa", [], []),
    name!("Тамара", "Тамара", "Tamara", [], []),
    name!("Ніна", "Нина", "Nina", [], []),
    name!("Софія", "Софья", "Sophia", ["София"], []),
    name!("Дарина", "Дарья", "Daria", ["Дар'я"], []),
    name!("Анастасія", "Анастасия", "Anastasia", [], []),
    name!("Вікторія", "Виктория", "Victoria", [], []),
    name!("Алла", "Алла", "Alla", [], []),
    name!("Інна", "Инна", "Inna", [], []),
    name!("Яна", "Яна", "Yana", [], []),
    name!("Христина", "Кристина", "Christina", [], []),
    name!("Євгенія", "Евгения", "Eugenia", [], []),
    name!("Олександра", "Александра", "Alexandra", [], []),
    name!("Валерія", "Валерия", "Valeria", [], []),
    name!("Аліна", "Алина", "Alina", [], []),
    name!("Марина", "Марина", "Marina", [], []),
    name!("Лідія", "Лидия", "Lydia", [], []),
    name!("Раїса", "Раиса", "Raisa", [], []),
    name!("Зоя", "Зоя", "Zoya", [], []),
    name!("Поліна", "Полина", "Polina", [], []),
    name!("Єлизавета", "Елизавета", "Elizabeth", [], []),
    name!("Ксенія", "Ксения", "Ksenia", [], []),
    name!("Антоніна", "Антонина", "Antonina", [], []),
    name!("Вероніка", "Вероника", "Veronica", [], []),
    name!("Діана", "Диана", "Diana", [], []),
    name!("Уляна", "Ульяна", "Juliana", [], []),
    name!("Мирослава", "Мирослава", "Miroslava", [], []),
    name!("Зінаїда", "Зинаида", "Zinaida", [], []),
    name!("Клавдія", "Клавдия", "Claudia", [], []),
    name!("Євдокія", "Евдокия", "Eudocia", [], []),
    name!("Олеся", "Олеся", "Olesya", [], []),
    name!("Альона", "Алёна", "Alyona", [], []),
];

/// One place under its Ukrainian, Russian and English names (and former
/// names). Ukrainian names per the State Register of toponyms and the
/// Verkhovna Rada renaming resolutions (2016, 2023); Latin per KMU-2010 and
/// the traditional Russian-based English spellings. Hand-written.
pub static PLACES: &[&[&str]] = &[
    &["Київ", "Киев", "Kyiv", "Kiev"],
    &["Харків", "Харьков", "Kharkiv", "Kharkov"],
    &["Одеса", "Одесса", "Odesa", "Odessa"],
    &[
        "Дніпро",
        "Днепр",
        "Dnipro",
        "Dnepr",
        "Дніпропетровськ",
        "Днепропетровск",
        "Dnipropetrovsk",
        "Dnepropetrovsk",
    ],
    &["Львів", "Львов", "Lviv", "Lvov", "Lwow", "Lemberg"],
    &["Запоріжжя", "Запорожье", "Zaporizhzhia", "Zaporozhye"],
    &["Миколаїв", "Николаев", "Mykolaiv", "Nikolaev", "Nikolayev"],
    &["Херсон", "Kherson"],
    &["Маріуполь", "Мариуполь", "Mariupol", "Жданов"],
    &["Донецьк", "Донецк", "Donetsk", "Сталіно", "Сталино"],
    &["Луганськ", "Луганск", "Luhansk", "Lugansk", "Ворошиловград"],
    &["Чернігів", "Чернигов", "Chernihiv", "Chernigov"],
    &["Суми", "Сумы", "Sumy"],
    &["Полтава", "Poltava"],
    &["Вінниця", "Винница", "Vinnytsia", "Vinnitsa"],
    &["Житомир", "Zhytomyr", "Zhitomir"],
    &["Черкаси", "Черкассы", "Cherkasy", "Cherkassy"],
    &[
        "Кропивницький",
        "Кропивницкий",
        "Kropyvnytskyi",
        "Кіровоград",
        "Кировоград",
        "Kirovograd",
        "Єлисаветград",
        "Елисаветград",
    ],
    &["Рівне", "Ровно", "Rivne", "Rovno"],
    &["Луцьк", "Луцк", "Lutsk"],
    &["Тернопіль", "Тернополь", "Ternopil", "Ternopol"],
    &[
        "Хмельницький",
        "Хмельницкий",
        "Khmelnytskyi",
        "Khmelnitsky",
        "Проскурів",
        "Проскуров",
    ],
    &[
        "Івано-Франківськ",
        "Ивано-Франковск",
        "Ivano-Frankivsk",
        "Ivano-Frankovsk",
        "Станіслав",
        "Станислав",
    ],
    &["Ужгород", "Uzhhorod", "Uzhgorod"],
    &[
        "Чернівці",
        "Черновцы",
        "Chernivtsi",
        "Chernovtsy",
        "Czernowitz",
    ],
    &["Кременчук", "Кременчуг", "Kremenchuk", "Kremenchug"],
    &["Кривий Ріг", "Кривой Рог", "Kryvyi Rih", "Krivoy Rog"],
    &[
        "Біла Церква",
        "Белая Церковь",
        "Bila Tserkva",
        "Belaya Tserkov",
    ],
    &["Мелітополь", "Мелитополь", "Melitopol"],
    &["Бердянськ", "Бердянск", "Berdiansk", "Berdyansk"],
    &["Краматорськ", "Краматорск", "Kramatorsk"],
    &["Слов'янськ", "Славянск", "Sloviansk", "Slavyansk"],
    &["Бахмут", "Bakhmut", "Артемівськ", "Артемовск", "Artemovsk"],
    &[
        "Сєвєродонецьк",
        "Северодонецк",
        "Sievierodonetsk",
        "Severodonetsk",
    ],
    &["Лисичанськ", "Лисичанск", "Lysychansk", "Lisichansk"],
    &["Ізюм", "Изюм", "Izium", "Izyum"],
    &["Куп'янськ", "Купянск", "Kupiansk", "Kupyansk"],
    &["Сімферополь", "Симферополь", "Simferopol"],
    &["Севастополь", "Sevastopol"],
    &["Керч", "Керчь", "Kerch"],
    &["Ялта", "Yalta"],
    &["Нікополь", "Никополь", "Nikopol"],
    &["Павлоград", "Pavlohrad", "Pavlograd"],
    &[
        "Кам'янське",
        "Каменское",
        "Kamianske",
        "Kamenskoye",
        "Дніпродзержинськ",
        "Днепродзержинск",
    ],
    &["Бровари", "Бровары", "Brovary"],
    &["Ірпінь", "Ирпень", "Irpin"],
    &["Буча", "Bucha"],
    &["Гостомель", "Hostomel", "Gostomel"],
    &["Охтирка", "Ахтырка", "Okhtyrka", "Akhtyrka"],
    &["Конотоп", "Konotop"],
    &["Ніжин", "Нежин", "Nizhyn", "Nezhin"],
    &["Умань", "Uman"],
    &["Енергодар", "Энергодар", "Enerhodar", "Energodar"],
    &[
        "Нова Каховка",
        "Новая Каховка",
        "Nova Kakhovka",
        "Novaya Kakhovka",
    ],
    &["Вугледар", "Угледар", "Vuhledar", "Ugledar"],
    &["Авдіївка", "Авдеевка", "Avdiivka", "Avdeevka"],
    &["Горлівка", "Горловка", "Horlivka", "Gorlovka"],
    &["Макіївка", "Макеевка", "Makiivka", "Makeevka"],
    &["Москва", "Moscow", "Moskva"],
    &[
        "Санкт-Петербург",
        "Saint Petersburg",
        "St Petersburg",
        "Ленінград",
        "Ленинград",
        "Leningrad",
    ],
    &["Ростов-на-Дону", "Rostov-on-Don", "Rostov-na-Donu"],
    &["Бєлгород", "Белгород", "Belgorod", "Bilhorod"],
    &["Курськ", "Курск", "Kursk"],
    &["Воронеж", "Voronezh"],
    &["Брянськ", "Брянск", "Bryansk"],
    &["Новосибірськ", "Новосибирск", "Novosibirsk"],
    &[
        "Єкатеринбург",
        "Екатеринбург",
        "Yekaterinburg",
        "Свердловськ",
        "Свердловск",
        "Sverdlovsk",
    ],
    &["Краснодар", "Krasnodar"],
    &[
        "Волгоград",
        "Volgograd",
        "Сталінград",
        "Сталинград",
        "Stalingrad",
    ],
    &["Самара", "Samara", "Куйбишев", "Куйбышев"],
    &["Казань", "Kazan"],
    &["Мінськ", "Минск", "Minsk"],
    &["Гомель", "Homel", "Gomel"],
];

/// Words around a place name that do not identify it: settlement type
/// abbreviations (м., с., смт, г., пгт, пос.) and country names.
const PLACE_NOISE: &[&str] = &[
    "м",
    "місто",
    "г",
    "город",
    "с",
    "село",
    "смт",
    "пгт",
    "пос",
    "селище",
    "city",
    "of",
    "town",
    "україна",
    "украина",
    "ukraine",
    "росія",
    "россия",
    "russia",
    "рф",
    "ussr",
    "срср",
    "ссср",
];

/// Identifies a dictionary entry (given name or place) across its forms.
pub type EntryId = u16;

fn build_index<'a>(
    groups: impl Iterator<Item = (EntryId, &'a str)>,
    key: fn(&str) -> String,
) -> HashMap<String, EntryId> {
    let mut index = HashMap::new();
    for (id, form) in groups {
        index.entry(key(form)).or_insert(id);
    }
    index
}

fn given_forms() -> impl Iterator<Item = (EntryId, &'static str)> {
    GIVEN_NAMES.iter().enumerate().flat_map(|(i, e)| {
        [e.ukrainian, e.russian, e.english]
            .into_iter()
            .chain(e.others.iter().copied())
            .map(move |form| (i as EntryId, form))
    })
}

/// Exact forms first, with their romanisations: a few names differ only in
/// a vowel the key merges (Алёна/Alena and Алина/Alina), and their listed
/// spellings must still resolve.
static GIVEN_EXACT: LazyLock<HashMap<String, EntryId>> = LazyLock::new(|| {
    let mut index = build_index(given_forms(), normalize);
    for (id, form) in given_forms() {
        for standard in Standard::ALL {
            index
                .entry(normalize(&transliterate(form, standard)))
                .or_insert(id);
        }
    }
    index
});

static GIVEN_INDEX: LazyLock<HashMap<String, EntryId>> = LazyLock::new(|| {
    build_index(
        GIVEN_NAMES.iter().enumerate().flat_map(|(i, e)| {
            [e.ukrainian, e.russian, e.english]
                .into_iter()
                .chain(e.others.iter().copied())
                .map(move |form| (i as EntryId, form))
        }),
        spelling_key,
    )
});

static PATRONYMIC_INDEX: LazyLock<HashMap<String, EntryId>> = LazyLock::new(|| {
    let mut index = build_index(
        GIVEN_NAMES
            .iter()
            .enumerate()
            .flat_map(|(i, e)| e.patronymics.iter().map(move |form| (i as EntryId, *form))),
        patronymic_stem,
    );
    // The given names of men also give stems (Микола -> микол-), which
    // covers patronymics the table does not spell out.
    let from_names = build_index(
        GIVEN_NAMES
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.patronymics.is_empty())
            .flat_map(|(i, e)| {
                [e.ukrainian, e.russian, e.english]
                    .into_iter()
                    .chain(e.others.iter().copied())
                    .map(move |form| (i as EntryId, form))
            }),
        |name| strip_final_vowels(spelling_key(name)),
    );
    for (stem, id) in from_names {
        index.entry(stem).or_insert(id);
    }
    index
});

static PLACE_INDEX: LazyLock<HashMap<String, EntryId>> = LazyLock::new(|| {
    build_index(
        PLACES
            .iter()
            .enumerate()
            .flat_map(|(i, forms)| forms.iter().map(move |form| (i as EntryId, *form))),
        place_key,
    )
});

static GIVEN_VARIANT_KEYS: LazyLock<Vec<Vec<String>>> = LazyLock::new(|| {
    let mut keys = vec![Vec::new(); GIVEN_NAMES.len()];
    for (key, id) in GIVEN_INDEX.iter() {
        keys[*id as usize].push(key.clone());
    }
    keys
});

/// The dictionary entry of a given name in any script or romanisation.
pub fn given_name_id(name: &str) -> Option<EntryId> {
    given_name_id_of(&normalize(name), &spelling_key(name))
}

/// The same from the normalised text and spelling key already computed.
pub fn given_name_id_of(normal: &str, key: &str) -> Option<EntryId> {
    GIVEN_EXACT
        .get(normal)
        .or_else(|| GIVEN_INDEX.get(key))
        .copied()
}

/// The spelling keys of every form of a given-name entry, for fuzzy
/// comparison against a misspelt form.
pub fn given_name_variant_keys(id: EntryId) -> &'static [String] {
    &GIVEN_VARIANT_KEYS[id as usize]
}

/// The given-name entry a patronymic derives from (Миколаївна,
/// Николаевич, Mykolaiovych -> Микола/Николай).
pub fn patronymic_id(patronymic: &str) -> Option<EntryId> {
    patronymic_id_of_stem(&patronymic_stem(patronymic))
}

/// The same from the stem already computed.
pub fn patronymic_id_of_stem(stem: &str) -> Option<EntryId> {
    PATRONYMIC_INDEX.get(stem).copied()
}

/// The dictionary entry of a place in any script, romanisation or former
/// name.
pub fn place_id(place: &str) -> Option<EntryId> {
    place_id_of_key(&place_key(place))
}

/// The same from the place key already computed.
pub fn place_id_of_key(key: &str) -> Option<EntryId> {
    PLACE_INDEX.get(key).copied()
}

/// Patronymic suffixes on the spelling key (where e and y are already i and
/// ch is `C`), longest first: Ukrainian -ович/-йович/-івна/-ївна, Russian
/// -ович/-евич/-овна/-евна/-ич/-ична/-инична.
const PATRONYMIC_SUFFIXES: &[&str] = &[
    "iniCna", "ioviC", "iviC", "oviC", "iCna", "ivna", "ovna", "iC",
];

/// The father's-name stem of a patronymic on the spelling key, final vowels
/// removed so that Микола/Миколайович/Миколаївна share it.
pub fn patronymic_stem(patronymic: &str) -> String {
    patronymic_stem_of_key(spelling_key(patronymic))
}

/// The same from the spelling key.
pub fn patronymic_stem_of_key(key: String) -> String {
    for suffix in PATRONYMIC_SUFFIXES {
        if key.len() > suffix.len() + 1 && key.ends_with(suffix) {
            return strip_final_vowels(key[..key.len() - suffix.len()].to_string());
        }
    }
    strip_final_vowels(key)
}

fn strip_final_vowels(mut key: String) -> String {
    while key.chars().count() > 2 && key.ends_with(['a', 'o', 'i', 'u']) {
        key.pop();
    }
    key
}

/// The spelling key of a place with settlement-type words and country names
/// removed.
pub fn place_key(place: &str) -> String {
    let normal = normalize(place);
    let words: Vec<&str> = normal
        .split([' ', ','])
        .filter(|w| !w.is_empty() && !PLACE_NOISE.contains(w))
        .collect();
    spelling_key(&words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_form_finds_its_own_entry() {
        for (id, form) in given_forms() {
            assert_eq!(given_name_id(form), Some(id), "{form}");
        }
        for (id, forms) in PLACES.iter().enumerate() {
            for form in forms.iter() {
                assert_eq!(place_id(form), Some(id as EntryId), "{form}");
            }
        }
    }

    #[test]
    fn feminine_and_romanised_patronymics_find_the_fathers_name() {
        let cases = [
            ("Миколаївна", "Nicholas"),
            ("Николаевна", "Nicholas"),
            ("Mykolaiovych", "Nicholas"),
            ("NIKOLAYEVICH", "Nicholas"),
            ("Петрівна", "Peter"),
            ("Petrovna", "Peter"),
            ("Андріївна", "Andrew"),
            ("Andreyevna", "Andrew"),
            ("Hryhorivna", "Gregory"),
            ("Grigorevna", "Gregory"),
            ("Ильинична", "Elijah"),
            ("Іллівна", "Elijah"),
            ("Oleksandrivna", "Alexander"),
            ("Сергеевна", "Sergei"),
        ];
        for (patronymic, father) in cases {
            let id = patronymic_id(patronymic).map(|id| GIVEN_NAMES[id as usize].english);
            assert_eq!(id, Some(father), "{patronymic}");
        }
    }

    #[test]
    fn patronymics_find_the_fathers_name() {
        for entry in GIVEN_NAMES {
            for patronymic in entry.patronymics {
                let id = patronymic_id(patronymic).map(|id| GIVEN_NAMES[id as usize].english);
                assert_eq!(id, Some(entry.english), "{patronymic}");
            }
        }
    }
}
