"""docs/method.md, the project's own method document, has its numbered
sections, and every citation of it in the repository names one of them.

Citations are read from rmt_mm/, tools/, configs/, tests/, docs/ and
README.md in the forms the code, configs and logs use: the document's name
followed by "section N", "sections N to M", a bare number (config comments)
or, after a comma, a heading's title in double quotes; with or without the
``docs/`` prefix, also where a citation is split over two lines of a
comment or of two concatenated string literals.
"""
import os
import os.path as osp
import re
from typing import Dict, Iterator, List, Set, Tuple

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# Spelt in two parts so that this file's own text holds no citation.
DOC_NAME = 'method' + '.md'
DOC = osp.join(REPO, 'docs', DOC_NAME)
SCANNED = ('rmt_mm', 'tools', 'configs', 'tests', 'docs', 'README.md')
SKIPPED_DIRS = {'.venv', '__pycache__', '.git', 'work_dirs', 'data',
                'demo_output', 'mutants', '.pytest_cache'}
TEXT_SUFFIXES = ('.py', '.md', '.yml', '.yaml', '.txt', '.sh', '.cfg',
                 '.toml', '.json', '.html', '.js', '.css', '.ini')
#: The sections the document must have, in this order.
SECTIONS = list(range(1, 13))

_NAME = r'method\.md'
_RANGE = re.compile(
    _NAME + r',?\s+sections\s+(\d+)\s*(?:to|-|–|through)\s*(\d+)',
    re.IGNORECASE)
_SINGLE = re.compile(_NAME + r',?\s+(?:section\s+|§\s*)?(\d+)\b',
                     re.IGNORECASE)
_TITLE = re.compile(_NAME + r',\s*"([^"]+)"')
_HEADING = re.compile(r'^## (\d+)\.\s+(.*?)\s*$', re.MULTILINE)


def joined(text: str, comments: bool = True) -> str:
    """``text`` with the line breaks a citation may span removed: two
    adjacent string literals (``'...method.md '`` / ``'section 5'``), a
    comment continued on the next line (unless ``comments`` is false, as
    for Markdown, whose ``#`` lines are headings), then any run of
    whitespace."""
    text = re.sub(r"""(['"])[ \t]*\n\s*[rbfRBF]{0,2}\1""", '', text)
    if comments:
        text = re.sub(r'\n[ \t]*#+[ \t]?', ' ', text)
    return re.sub(r'\s+', ' ', text)


def citations(text: str,
              comments: bool = True) -> Tuple[List[int], List[str]]:
    """The section numbers and the section titles ``text`` cites."""
    text = joined(text, comments)
    numbers: List[int] = []
    for match in _RANGE.finditer(text):
        low, high = int(match.group(1)), int(match.group(2))
        numbers.extend(range(low, high + 1) if low <= high else [low, high])
    without_ranges = _RANGE.sub(' ', text)
    numbers.extend(int(m.group(1)) for m in _SINGLE.finditer(without_ranges))
    titles = [m.group(1) for m in _TITLE.finditer(text)]
    return numbers, titles


def headings(text: str) -> Dict[int, str]:
    """``{N: title}`` of the document's ``## N. Title`` headings."""
    return {int(m.group(1)): m.group(2) for m in _HEADING.finditer(text)}


def missing(numbers: List[int], titles: List[str],
            sections: Dict[int, str]) -> List[str]:
    """The cited sections that the document does not have."""
    gone = [f'section {n}' for n in sorted(set(numbers))
            if n not in sections]
    flat = [' '.join(t.split()).lower() for t in sections.values()]
    gone += [f'"{t}"' for t in titles
             if not any(h.startswith(' '.join(t.split()).lower())
                        for h in flat)]
    return gone


def scanned_files() -> Iterator[str]:
    for entry in SCANNED:
        path = osp.join(REPO, entry)
        if osp.isfile(path):
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
            for name in sorted(files):
                if name.endswith(TEXT_SUFFIXES):
                    yield osp.join(root, name)


def read(path: str) -> str:
    with open(path, encoding='utf-8', errors='replace') as file:
        return file.read()


def repository_citations() -> Dict[str, Tuple[List[int], List[str]]]:
    """``{file relative to the repository: (numbers, titles)}`` for every
    scanned file that cites the document."""
    found = {}
    for path in scanned_files():
        text = read(path)
        if DOC_NAME not in text:
            continue
        numbers, titles = citations(text, not path.endswith('.md'))
        if numbers or titles:
            found[osp.relpath(path, REPO)] = (numbers, titles)
    return found


def test_the_document_has_sections_1_to_12_in_order():
    assert osp.isfile(DOC), 'docs/' + DOC_NAME + ' is missing'
    numbers = [int(m.group(1)) for m in _HEADING.finditer(read(DOC))]
    assert numbers == SECTIONS


def test_every_citation_names_an_existing_section():
    sections = headings(read(DOC))
    found = repository_citations()
    # The code, configs and logs cite it: the scan must see them.
    assert len(found) >= 10, sorted(found)
    cited: Set[int] = set()
    problems = []
    for path, (numbers, titles) in sorted(found.items()):
        cited.update(numbers)
        gone = missing(numbers, titles, sections)
        if gone:
            problems.append(f'{path}: {", ".join(gone)}')
    assert not problems, (
        'Citations of docs/' + DOC_NAME + ' name sections it does not '
        'have:\n' + '\n'.join(problems))
    assert {4, 5, 6, 8, 9, 10} <= cited


def test_citation_forms_are_recognised():
    name = DOC_NAME
    text = '\n'.join([
        f'# lambda (see {name} 5).',
        f'    """Rule of {name}',
        '    section 7, then more."""',
        f"    log('... (docs/{name} '",
        "        'section 99).')",
        f"    msg = (f'{{x}} (docs/{name} section '",
        "           '10).')",
        f'# {name} sections 3 to 6 and the threshold',
        f'# ({name}',
        '# section 11) in a comment',
        f'(docs/{name}, "Low-shot',
        '    recipe")',
        f'(docs/{name}, "No such title")',
    ])
    numbers, titles = citations(text)
    assert sorted(numbers) == [3, 4, 5, 5, 6, 7, 10, 11, 99]
    assert [' '.join(t.split()) for t in titles] == [
        'Low-shot recipe', 'No such title']
    sections = {n: f'Title {n}' for n in SECTIONS}
    sections[10] = 'Low-shot recipe and guards'
    assert missing(numbers, titles, sections) == [
        'section 99', '"No such title"']
    assert missing([1, 12], ['low-shot recipe'], sections) == []
