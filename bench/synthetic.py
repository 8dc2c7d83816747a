"""A deterministic synthetic FAQ (many topics in every language) and noisy queries against it.

Everything is generated in memory from `random.Random(seed)`: pseudo-words that look like each
language (its alphabet, diacritics, typical syllables and endings), topics built from a few
specific words plus common ones, eight variants per translation, and queries made from the
variants with typos, lost diacritics, filler words, other word orders and punctuation, plus
off-topic chatter that must not match.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from typing import Final

from faq.loader import Faq
from faq.schema import ANSWER_MAX, CATEGORIES, TITLE_MAX, Topic, Translation
from locales import LANGUAGES

VARIANTS: Final = 8
VOCABULARY: Final = 4000
COMMON: Final = 60


@dataclass(frozen=True)
class Alphabet:
    onsets: tuple[str, ...]
    vowels: tuple[str, ...]
    codas: tuple[str, ...]
    endings: tuple[str, ...]
    syllables: tuple[int, int]  # min, max syllables in a word


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


ALPHABETS: Final[dict[str, Alphabet]] = {
    "en": Alphabet(
        _split("b c d f g h j k l m n p r s t v w br cl dr gr pl pr st tr sh ch th"),
        _split("a e i o u a e i o ea ou"),
        _split("_ _ _ n r s t l m nd st ck"),
        _split("_ _ _ tion ment ing er ance ity"),
        (1, 3),
    ),
    "cs": Alphabet(
        _split("b c č d ď h ch k l m n p r ř s š t v z ž pr st kr zn sv"),
        _split("a e i o u y á é í ů ě ý"),
        _split("_ _ _ _ n k t l m st"),
        _split("_ _ ní ost ka ek ství ovat"),
        (1, 3),
    ),
    "fr": Alphabet(
        _split("b c d f g j l m n p r s t v ch pr tr gr qu"),
        _split("a e i o u é è ê à ou au ai oi"),
        _split("_ _ _ _ r s n l"),
        _split("_ _ tion ment eur ence ité age"),
        (1, 3),
    ),
    "es": Alphabet(
        _split("b c d f g j l m n ñ p r s t v ll ch pr tr gr qu"),
        _split("a e i o u á é í ó ú ue ie"),
        _split("_ _ _ _ n r s l"),
        _split("_ _ ción dad miento ar er ido"),
        (1, 3),
    ),
    "vi": Alphabet(
        _split("b c ch d đ g gi h k kh l m n ng nh ph qu r s t th tr v x"),
        _split("a à á ả ạ ă ắ â ấ ầ e é ê ế ệ i í o ó ô ố ơ ớ ờ u ú ư ứ ữ"),
        _split("_ _ c ch m n ng nh p t"),
        _split("_"),
        (1, 1),
    ),
    "ru": Alphabet(
        _split("б в г д ж з к л м н п р с т ф х ц ч ш щ пр ст кр"),
        _split("а е и о у ы я ю ё"),
        _split("_ _ _ _ н т л м р с"),
        _split("_ _ ость ние ать ый ка ство"),
        (1, 3),
    ),
    "uk": Alphabet(
        _split("б в г ґ д ж з к л м н п р с т ф х ц ч ш щ пр ст"),
        _split("а е и і ї о у я ю є"),
        _split("_ _ _ _ н т л м р"),
        _split("_ _ ння ість ати ий ка ство"),
        (1, 3),
    ),
    "mn": Alphabet(
        _split("б в г д ж з л м н п р с т х ц ч ш"),
        _split("а э и о у ө ү я ё"),
        _split("_ _ _ н л р г д"),
        _split("_ _ ын ийн ээр лэх гаа"),
        (1, 3),
    ),
    "ar": Alphabet(
        _split("ب ت ث ج ح خ د ذ ر ز س ش ص ض ط ظ ع غ ف ق ك ل م ن ه و ي"),
        _split("ا و ي _ _ _"),
        _split("_ _ ة ات ين"),
        _split("_"),
        (2, 3),
    ),
    "hy": Alphabet(
        _split("բ գ դ զ թ ժ լ խ ծ կ հ ձ ղ ճ մ յ ն շ չ պ ջ ռ ս վ տ ր ց փ ք ֆ"),
        _split("ա ե է ը ի ո օ ու"),
        _split("_ _ _ ն ր լ մ ս"),
        _split("_ _ ություն ական ել ում"),
        (1, 3),
    ),
}

# Chatter that no FAQ answers, in several languages (greetings, thanks, unrelated questions).
OFF_TOPIC: Final = (
    "hello how are you today",
    "thanks a lot, have a nice day!",
    "who won the football match yesterday",
    "can you recommend a cheap used car",
    "dobrý den, jak se máte",
    "děkuji moc, na shledanou",
    "здравствуйте, как дела?",
    "спасибо большое, до свидания",
    "привіт, як справи?",
    "xin chào, bạn khỏe không",
    "مرحبا كيف حالك",
    "bonjour, ça va ?",
    "hola, ¿qué tal?",
    "բարև, ինչպես ես",
    "сайн байна уу",
    "😀😀 ok",
)


def _word(rng: random.Random, alphabet: Alphabet) -> str:
    parts = []
    for _ in range(rng.randint(*alphabet.syllables)):
        parts += [rng.choice(alphabet.onsets), rng.choice(alphabet.vowels)]
    parts += [rng.choice(alphabet.codas), rng.choice(alphabet.endings)]
    return "".join(p for p in parts if p != "_")


def vocabulary(rng: random.Random, lang: str, size: int = VOCABULARY) -> list[str]:
    """`size` distinct pseudo-words of `lang` (at least two letters each)."""
    alphabet = ALPHABETS[lang]
    seen: set[str] = set()
    result = []
    while len(result) < size:
        word = _word(rng, alphabet)
        if len(word) >= 2 and word not in seen:
            seen.add(word)
            result.append(word)
    return result


def _sentence(rng: random.Random, specific: list[str], common: list[str], lang: str) -> str:
    picked = rng.sample(specific, k=min(len(specific), rng.randint(2, 4)))
    picked += rng.sample(common, k=rng.randint(1, 3))
    rng.shuffle(picked)
    end = "؟" if lang == "ar" else "?"
    return " ".join(picked) + (end if rng.random() < 0.5 else "")


def _answer(rng: random.Random, specific: list[str], vocab: list[str]) -> str:
    text = " ".join(rng.choice(specific if rng.random() < 0.3 else vocab) for _ in range(70))
    text = text[: ANSWER_MAX - 10].rsplit(" ", 1)[0]
    return text[:1].upper() + text[1:] + "."


def synthetic_faq(
    topics: int = 1000, seed: int = 1, languages: tuple[str, ...] = LANGUAGES
) -> Faq:
    """A FAQ of `topics` topics in every one of `languages`, the same for the same seed."""
    rng = random.Random(seed)
    vocabs = {lang: vocabulary(rng, lang) for lang in languages}
    result: dict[str, Topic] = {}
    for number in range(topics):
        translations = {}
        for lang in languages:
            vocab = vocabs[lang]
            common, rare = vocab[:COMMON], vocab[COMMON:]
            specific = rng.sample(rare, k=6)
            question = _sentence(rng, specific, common, lang)
            title = " ".join(specific[:3])[:TITLE_MAX].strip()
            translations[lang] = Translation(
                title=title[:1].upper() + title[1:],
                question=question[:1].upper() + question[1:],
                variants=[_sentence(rng, specific, common, lang) for _ in range(VARIANTS)],
                keywords=specific[:3],
                answer=_answer(rng, specific, vocab),
            )
        topic_id = f"topic-{number:04d}"
        result[topic_id] = Topic(
            id=topic_id,
            category=CATEGORIES[number % len(CATEGORIES)],
            order=number,
            translations=translations,
        )
    return Faq(topics=result, languages=languages)


# ----------------------------------------------------------------- queries


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:  # swap two letters
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:  # drop one
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]  # double one


def noisy(rng: random.Random, text: str, fillers: list[str]) -> str:
    """`text` as people type it: typos, no diacritics, filler words, other order, punctuation."""
    words = text.rstrip("?؟.!").split()
    words = [_typo(rng, w) if rng.random() < 0.3 else w for w in words]
    if rng.random() < 0.3:
        rng.shuffle(words)
    if fillers and rng.random() < 0.5:
        words.insert(rng.randrange(len(words) + 1), rng.choice(fillers))
    result = " ".join(words)
    if rng.random() < 0.4:
        result = _strip_marks(result)
    if rng.random() < 0.3:
        result = result.capitalize()
    return result + rng.choice(("", "", "?", "??", " !", " 🙏"))


@dataclass(frozen=True)
class Query:
    text: str
    topic: str | None  # the topic it was made from; None for off-topic text


def queries(faq: Faq, count: int, seed: int, off_topic_share: float = 0.15) -> list[Query]:
    """`count` noisy questions made from the FAQ's own phrasings, plus off-topic chatter."""
    rng = random.Random(seed)
    topic_ids = sorted(faq.topics)
    result = []
    for _ in range(count):
        if rng.random() < off_topic_share:
            if rng.random() < 0.5:
                result.append(Query(rng.choice(OFF_TOPIC), None))
            else:  # words the FAQ has never seen, in one language's letters
                lang = rng.choice(faq.languages)
                made = vocabulary(random.Random(rng.random()), lang, 5)
                result.append(Query(" ".join(made), None))
            continue
        topic = faq.topics[rng.choice(topic_ids)]
        lang = rng.choice(sorted(topic.translations))
        tr = topic.translations[lang]
        phrasing = rng.choice([tr.question, *tr.variants])
        fillers = tr.answer.rstrip(".").split()[:5]
        result.append(Query(noisy(rng, phrasing, fillers), topic.id))
    return result
