"""CrisisMMD v2.0 (humanitarian task) -> ``CMMD-V2/CMMD_data.pth``.

As the MST-Distill release builds it:

1. the three ``task_humanitarian_text_img_{dev,test,train}.tsv`` files of
   ``crisismmd_datasplit_all`` are concatenated in file-name order (dev,
   test, train: the release's directory listing) and de-duplicated by
   ``tweet_id`` (first row kept; a tweet with several images keeps its
   first one): 16,058 rows;
2. labels: the ``label`` column mapped to 0..7 in the order of
   :data:`HUMANITARIAN_CLASSES` (the release's list);
3. image features: ResNet-50 pooled output of the ``image`` file (relative
   to the CrisisMMD root); text features: the encoder's output for
   ``tweet_text`` (BERTweet-base pooler output by default, after the
   release's text normalisation :func:`release_tweet_text`).

The result is ``torch.save((image_features [N, 2048] float32, text_features
[N, 768] float32, labels [N] int64))`` (torch tensors, loadable with
``torch.load(..., weights_only=True)``; the release saved NumPy arrays in the
same tuple).
"""
import csv
import os
import os.path as osp
import re
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from torch import nn

from mstkd.utils.errors import DataNotFoundError, UserInputError
from .features import TextEncoder, extract_image_features, \
    extract_text_features

HUMANITARIAN_CLASSES = (
    'not_humanitarian',
    'affected_individuals',
    'infrastructure_and_utility_damage',
    'injured_or_dead_people',
    'missing_or_found_people',
    'rescue_volunteering_or_donation_effort',
    'vehicle_damage',
    'other_relevant_information',
)
SPLIT_DIR = 'crisismmd_datasplit_all'
#: In the release's (alphabetical) order.
TSV_FILES = tuple(f'task_humanitarian_text_img_{s}.tsv'
                  for s in ('dev', 'test', 'train'))
COLUMNS = ('tweet_id', 'tweet_text', 'image', 'label')

LAYOUT = """\
CrisisMMD_v2.0/                              <- CRISISMMD_ROOT
  crisismmd_datasplit_all/
    task_humanitarian_text_img_train.tsv     tab-separated, with a header:
    task_humanitarian_text_img_dev.tsv       event_name tweet_id image_id
    task_humanitarian_text_img_test.tsv      tweet_text image label ...
  data_image/<event>/<date>/<tweet_id>_<k>.jpg   (the 'image' column,
                                                 relative to the root)"""


def read_humanitarian_rows(root: str) -> List[Dict[str, str]]:
    """The de-duplicated rows of the humanitarian text-image task.

    Args:
        root (str): The ``CrisisMMD_v2.0`` folder.

    Returns:
        list[dict]: ``tweet_id``, ``tweet_text``, ``image``, ``label`` of
        every kept row, in release order (dev, test, train files; first
        occurrence of a tweet).
    """
    if not osp.isdir(root):
        raise DataNotFoundError(
            f'CrisisMMD root not found: {root}\nExpected layout:\n{LAYOUT}')
    rows, seen = [], set()
    for name in TSV_FILES:
        path = osp.join(root, SPLIT_DIR, name)
        if not osp.isfile(path):
            raise DataNotFoundError(
                f'CrisisMMD split file not found: {path}\nExpected layout:\n'
                f'{LAYOUT}')
        with open(path, newline='', encoding='utf-8') as f:
            reader = csv.DictReader(f, delimiter='\t')
            header = reader.fieldnames or ()
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise UserInputError(
                    f'{path} lacks the columns {missing} (found '
                    f'{reader.fieldnames}); expected the CrisisMMD v2.0 '
                    'datasplit TSV header.')
            for row in reader:
                if row['tweet_id'] in seen:
                    continue
                seen.add(row['tweet_id'])
                rows.append({c: row[c] for c in COLUMNS})
    return rows


def label_index(label: str, where: str = '') -> int:
    """The class index (0..7) of a humanitarian label name."""
    try:
        return HUMANITARIAN_CLASSES.index(label)
    except ValueError:
        raise UserInputError(
            f'Unknown humanitarian label {label!r}{where}; expected one of '
            f'{list(HUMANITARIAN_CLASSES)}.')


# -- the release's tweet normalisation ----------------------------------------


def _fix_unicode_escapes(text: str) -> str:
    # text -> its unicode-escape spelling, \uXXXX -> \U00XXXXXX (as the
    # release does; greedy over 4-6 hex digits).
    escaped = text.encode('unicode-escape').decode('utf-8')
    return re.sub(r'\\u([0-9a-fA-F]{4,6})',
                  lambda m: '\\U' + m.group(1).zfill(8), escaped)


def _safe_unicode_decode(text: str) -> str:
    # back to characters, only when a \u / \U escape is present
    if '\\u' in text or '\\U' in text:
        try:
            return text.encode('utf-8').decode('unicode-escape')
        except UnicodeDecodeError:
            return text
    return text


def normalize_token(token: str, demojize: Callable[[str], str]) -> str:
    """BERTweet's token normalisation (user mentions, URLs, emoji)."""
    low = token.lower()
    if token.startswith('@'):
        return '@USER'
    if low.startswith('https://t.co/'):
        return ''
    if low.startswith('http') or low.startswith('www'):
        return 'HTTPURL'
    if len(token) == 1:
        return demojize(token)
    token = token.replace("\\'", "'")
    if token == '’':
        return "'"
    if token == '…':
        return '...'
    return token


def normalize_tweet(tweet: str, tokenize: Callable[[str], List[str]],
                    demojize: Callable[[str], str]) -> str:
    """BERTweet's tweet normalisation as the release applies it.

    Args:
        tweet (str): The text.
        tokenize (Callable): A tweet tokenizer (nltk's ``TweetTokenizer``).
        demojize (Callable): ``emoji.demojize``.

    Returns:
        str: Normalised text, tokens separated by single spaces.
    """
    tweet = tweet.replace("\\'", "'")
    tokens = tokenize(tweet.replace('’', "'").replace('…', '...'))
    norm = ' '.join(normalize_token(t, demojize) for t in tokens)
    norm = re.sub(r"\\'", "'", norm)
    norm = (norm.replace('cannot ', 'can not ').replace("n't ", " n't ")
            .replace("n 't ", " n't ").replace("ca n't", "can't")
            .replace("ai n't", "ain't"))
    norm = (norm.replace("'m ", " 'm ").replace("'re ", " 're ")
            .replace("'s ", " 's ").replace("'ll ", " 'll ")
            .replace("'d ", " 'd ").replace("'ve ", " 've "))
    norm = (norm.replace(' p . m .', '  p.m.').replace(' p . m ', ' p.m ')
            .replace(' a . m .', ' a.m.').replace(' a . m ', ' a.m '))
    return ' '.join(norm.split())


def release_tweet_text(text: str, tokenize: Callable[[str], List[str]],
                       demojize: Callable[[str], str]) -> str:
    """The release's full text preprocessing of one tweet: ``ftfy.fix_text``,
    a unicode-escape round trip, ``demojize``, :func:`normalize_tweet`.

    Args:
        text (str): Raw ``tweet_text``.
        tokenize (Callable): Tweet tokenizer.
        demojize (Callable): Emoji -> ``:name:``.

    Returns:
        str: The text fed to the BERTweet tokenizer.
    """
    import ftfy
    text = _safe_unicode_decode(_fix_unicode_escapes(ftfy.fix_text(text)))
    return normalize_tweet(demojize(text), tokenize, demojize)


def build_release_text_preprocess() -> Callable[[str], str]:
    """:func:`release_tweet_text` with nltk's ``TweetTokenizer`` and
    ``emoji.demojize`` (the packages the release uses; imported here so that
    only the BERTweet path needs them)."""
    try:
        from emoji import demojize
        from nltk.tokenize import TweetTokenizer
    except ImportError as e:
        raise UserInputError(
            f'The release text normalisation needs the emoji and nltk '
            f'packages ({e}): pip install emoji nltk, or pass '
            '--no-text-normalization.')
    tokenizer = TweetTokenizer()
    return lambda text: release_tweet_text(text, tokenizer.tokenize,
                                           demojize)


# -- conversion ---------------------------------------------------------------


def convert_crisismmd(root: str,
                      out_file: str,
                      image_net: nn.Module,
                      text_encoder: TextEncoder,
                      image_size: int = 224,
                      batch_size: int = 32,
                      device: str = 'cpu',
                      limit: Optional[int] = None,
                      log: Callable[[str], None] = print) -> Dict[str, object]:
    """Extract the features and write ``CMMD_data.pth``.

    Args:
        root (str): The ``CrisisMMD_v2.0`` folder (:data:`LAYOUT`).
        out_file (str): Output path (``.../CMMD-V2/CMMD_data.pth``).
        image_net (nn.Module): ``[B, 3, S, S]`` -> ``[B, 2048]``.
        text_encoder (Callable): ``list[str]`` -> ``[B, 768]``.
        image_size (int): Image input side. Defaults to 224.
        batch_size (int): Images / texts per forward. Defaults to 32.
        device (str): Where the image network runs.
        limit (int, optional): Only the first ``limit`` rows (trial run).
        log (Callable): Progress messages.

    Returns:
        dict: ``num_samples``, ``class_counts`` (list of 8 ints),
        ``image_dim``, ``text_dim``.
    """
    rows = read_humanitarian_rows(root)
    if limit is not None:
        rows = rows[:limit]
    labels = np.array([
        label_index(r['label'], f" (tweet {r['tweet_id']})") for r in rows
    ], np.int64)
    paths = [osp.join(root, r['image']) for r in rows]
    missing = [p for p in paths if not osp.isfile(p)]
    if missing:
        shown = '\n  '.join(missing[:5])
        raise DataNotFoundError(
            f'{len(missing)} images listed in the TSVs are missing, e.g.:\n'
            f'  {shown}\nUnpack the CrisisMMD v2.0 images (data_image/) '
            f'into {root}.\nExpected layout:\n{LAYOUT}')
    log(f'{len(rows)} tweets (de-duplicated by tweet_id)')
    image_feats = extract_image_features(paths, image_net, image_size,
                                         batch_size, device, log=log)
    text_feats = extract_text_features([r['tweet_text'] for r in rows],
                                       text_encoder, batch_size, log=log)
    out_dir = osp.dirname(osp.abspath(out_file))
    os.makedirs(out_dir, exist_ok=True)
    result = (torch.from_numpy(np.ascontiguousarray(image_feats, np.float32)),
              torch.from_numpy(np.ascontiguousarray(text_feats, np.float32)),
              torch.from_numpy(labels))
    torch.save(result, out_file)
    return dict(
        num_samples=len(rows),
        class_counts=np.bincount(labels,
                                 minlength=len(HUMANITARIAN_CLASSES)).tolist(),
        image_dim=int(image_feats.shape[1]),
        text_dim=int(text_feats.shape[1]))

