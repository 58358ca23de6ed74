"""tsne_masknet.py (paper Fig. 10): the built-in exact t-SNE, and the tool
on a tiny MST-Distill run (features before / after the MaskNet, figure,
JSON, the checkpoints it refuses)."""
import argparse
import glob
import importlib.util
import json
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch

from mstkd.utils.errors import UserInputError
from mstkd.visualization import tsne
from tests.helpers import REPO, tiny_mst_config

MST_CFG = osp.join(REPO, 'configs/mst/mst_avdigits_image.py')
TOOL = osp.join(REPO, 'tools/analysis_tools/tsne_masknet.py')
TEACHERS = ['audio:conv2', 'audio:conv3', 'mm:fusion.concat',
            'mm:fusion.fc1']


# -- (a) the built-in t-SNE ---------------------------------------------------
def _clusters(n=30, dim=10, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.randn(3, dim) * 8
    x = np.concatenate([c + rng.randn(n, dim) for c in centers])
    return x, np.repeat(np.arange(3), n)


def test_exact_tsne_separates_clusters_deterministically():
    x, y = _clusters()
    emb = tsne.exact_tsne(x, perplexity=30, seed=0)
    assert emb.shape == (90, 2) and np.isfinite(emb).all()
    assert tsne.knn_accuracy(emb, y, k=5) >= 0.95
    np.testing.assert_array_equal(emb, tsne.exact_tsne(x, 30, seed=0))
    assert not np.allclose(emb, tsne.exact_tsne(x, 30, seed=1))
    # embed(): same result through the method switch
    emb2, method = tsne.embed(x, 'exact', perplexity=30, seed=0)
    assert method == 'exact'
    np.testing.assert_array_equal(emb, emb2)


@pytest.mark.parametrize('perplexity', [5.0, 20.0, 30.0])
def test_p_rows_have_the_target_perplexity(perplexity):
    x, _ = _clusters()
    p = tsne.conditional_probabilities(tsne.squared_distances(x), perplexity)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-12)
    assert (np.diag(p) == 0).all()
    entropy = np.log(tsne.row_perplexities(p))  # nats
    np.testing.assert_allclose(entropy, np.log(perplexity), rtol=1e-3)
    joint = tsne.joint_probabilities(x, perplexity)
    np.testing.assert_allclose(joint, joint.T)
    assert joint.sum() == pytest.approx(1.0, abs=1e-6)


def test_knn_accuracy_and_method_choice(monkeypatch):
    x = np.array([[0.], [0.1], [0.2], [5.], [5.1], [5.2]])
    assert tsne.knn_accuracy(x, [0, 0, 0, 1, 1, 1], k=2) == 1.0
    assert tsne.knn_accuracy(x, [0, 1, 0, 1, 0, 1], k=1) == 0.0
    monkeypatch.setattr(tsne, 'sklearn_available', lambda: False)
    assert tsne.resolve_method('auto') == 'exact'
    with pytest.raises(UserInputError, match='--method exact'):
        tsne.resolve_method('sklearn')
    monkeypatch.setattr(tsne, 'sklearn_available', lambda: True)
    assert tsne.resolve_method('auto') == 'sklearn'


# -- (b) the tool on a tiny run -----------------------------------------------
def _tool():
    spec = importlib.util.spec_from_file_location('tsne_masknet_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def run(tiny_avdigits, tmp_path_factory):
    """S1, S2 and S3 one epoch each, in process (light MaskNets)."""
    from mmengine.runner import Runner
    work = str(tmp_path_factory.mktemp('tsne') / 'mst')
    cfg = tiny_mst_config(tiny_avdigits, work, 'tsne_fixture')
    Runner.from_cfg(cfg).train()
    # the config dump the run wrote (every override included)
    return dict(work=work, config=osp.join(work, 'mst_avdigits_image.py'))


def _main(monkeypatch, *argv):
    monkeypatch.setattr(sys, 'argv', ['tsne_masknet.py', *argv])
    _tool().main()


def _png(path, size):
    image = cv2.imread(path)
    assert image is not None, f'{path} does not decode'
    assert (image.shape[1], image.shape[0]) == size
    assert image.std() > 0
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 10
    assert (image.max(2).astype(int) - image.min(2) > 60).any()  # colour


def _loo_knn(x, labels, k=5):
    """Leave-one-out k-NN accuracy, Euclidean, majority vote; a tie goes
    to the tied class met first among the neighbours (nearest first)."""
    correct = 0
    for i in range(len(labels)):
        dist = [(float(((x[i] - x[j])**2).sum()), j)
                for j in range(len(labels)) if j != i]
        votes = [labels[j] for _, j in sorted(dist)[:k]]
        top = max(votes.count(v) for v in votes)
        pred = next(v for v in votes if votes.count(v) == top)
        correct += pred == labels[i]
    return correct / len(labels)


def test_tool_writes_figures_and_scores(run, tmp_path, monkeypatch, capsys):
    out = str(tmp_path / 'out')
    # s3_end.pth is slim: its (frozen) MaskNets are read from s2_end.pth
    _main(monkeypatch, run['config'], osp.join(run['work'], 's3_end.pth'),
          '--all', '--method', 'exact', '--out', out, '--n-iter', '300')
    printed = capsys.readouterr().out
    assert 't-SNE method: exact' in printed
    for name in TEACHERS:
        key = name.replace('.', '_').replace(':', '__')
        png = osp.join(out, f'tsne_{key}.png')
        _png(png, (1300, 600))
        assert osp.isfile(osp.join(out, 'vis_data', 'vis_image',
                                   f'tsne_{key}_0.png'))
        with open(osp.splitext(png)[0] + '.json') as f:
            data = json.load(f)
        assert data['name'] == name and data['method'] == 'exact'
        assert data['N'] == len(data['labels']) > 10
        assert (data['s2_epochs_done'], data['s2_epochs']) == (1, 1)
        for which in ('before', 'after'):
            assert 0.0 <= data['scores'][which]['knn_feature'] <= 1.0
            embedding = np.asarray(data['embedding'][which])
            assert embedding.shape == (data['N'], 2)
            # the 2-D score is the leave-one-out 5-NN accuracy of the
            # embedding written
            assert data['scores'][which]['knn_2d'] == pytest.approx(
                _loo_knn(embedding, data['labels']), abs=1e-12)
        assert 0.0 < data['mask']['mean'] < 1.0
        assert f'{name}: {data["N"]} samples' in printed

    # one teacher; --max-samples takes a seeded subset
    _main(monkeypatch, run['config'], osp.join(run['work'], 's2_end.pth'),
          '--teacher', 'mm:fusion.fc1', '--method', 'exact', '--out', out,
          '--max-samples', '12', '--no-visualizer', '--n-iter', '250')
    with open(osp.join(out, 'tsne_mm__fusion_fc1.json')) as f:
        assert json.load(f)['N'] == 12
    capsys.readouterr()

    # --method auto: scikit-learn's TSNE when installed
    _main(monkeypatch, run['config'], osp.join(run['work'], 's2_end.pth'),
          '--teacher', 'audio', '--layer', 'conv3', '--out', out,
          '--no-visualizer', '--n-iter', '250')
    method = tsne.resolve_method('auto')
    assert f't-SNE method: {method}' in capsys.readouterr().out
    with open(osp.join(out, 'tsne_audio__conv3.json')) as f:
        data = json.load(f)
    assert data['method'] == method
    assert all(0.0 <= data['scores'][w]['knn_2d'] <= 1.0
               for w in ('before', 'after'))


def test_features_before_and_after_the_masknet(run):
    from mstkd.models.mst import chunked_masked
    from mstkd.models.task_modules import resolve_layer
    from mstkd.utils.checkpoint import load_full_state_dict
    tool = _tool()
    ckpt = osp.join(run['work'], 's3_end.pth')
    args = argparse.Namespace(config=run['config'], checkpoint=ckpt,
                              cfg_options=None, run_seed=None,
                              device='cpu', split='test', non_strict=False)
    model, _, dataset, progress = tool.load_model(args)
    assert progress == dict(epochs_done=1, epochs=1)
    # the trained (S2) MaskNets were loaded, not freshly initialised ones
    trained = load_full_state_dict(osp.join(run['work'], 's2_end.pth'))
    for name, value in model.masknets.state_dict().items():
        torch.testing.assert_close(value, trained[f'masknets.{name}'])

    specs = tool.choose_teachers(model, all_=True)
    indices = list(range(min(20, len(dataset))))
    feats = tool.extract_features(model, dataset, indices, specs,
                                  batch_size=8)
    inputs, labels = next(tool.batches(model, dataset, indices, 20))
    np.testing.assert_array_equal(feats['labels'], labels.numpy())
    for spec in specs:
        net = model.members[spec.teacher]
        masknet = model.masknets[spec.key]
        layer = resolve_layer(net, spec.path)
        member_inputs = model.member_inputs(spec.teacher, inputs)
        seen = []
        with torch.no_grad():
            handle = layer.register_forward_hook(
                lambda m, a, o: seen.append(o))
            net(member_inputs)  # the plain teacher
            handle.remove()
            z = seen.pop()
            mask = masknet.mask(z)
            # the specialized teacher (MaskNet by the method's own hook):
            # a hook registered after it sees the masked output
            with chunked_masked(net, [(spec.path, masknet)]):
                handle = layer.register_forward_hook(
                    lambda m, a, o: seen.append(o))
                net(member_inputs)
                handle.remove()
        masked = seen.pop()
        before = feats[spec.key]['before']
        after = feats[spec.key]['after']
        np.testing.assert_allclose(before, z.flatten(1).numpy(), rtol=1e-5,
                                   atol=1e-6)
        broadcast = mask.view(*mask.shape, *([1] * (z.dim() - 2)))
        np.testing.assert_allclose(after, (z * broadcast).flatten(1).numpy(),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(after, masked.flatten(1).numpy(),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(feats[spec.key]['mask'], mask.numpy(),
                                   rtol=1e-5, atol=1e-6)
        assert not np.allclose(before, after)  # the mask did something


def test_refused_checkpoints_and_names(run, monkeypatch):
    work = run['work']
    with pytest.raises(UserInputError, match=r's1_end\.pth was saved .* '
                       r'untrained; use s2_end\.pth'):
        _main(monkeypatch, run['config'], osp.join(work, 's1_end.pth'))
    best = sorted(glob.glob(osp.join(work, 'best_*.pth')))
    assert best  # the student alone (no MaskNets)
    with pytest.raises(UserInputError, match='holds no MaskNets .*'
                       r'use s2_end\.pth'):
        _main(monkeypatch, run['config'], best[0])
    with pytest.raises(UserInputError, match='not a specialized teacher.*'
                       'valid.*' + '.*'.join(TEACHERS)):
        _main(monkeypatch, run['config'], osp.join(work, 's2_end.pth'),
              '--teacher', 'mm', '--layer', 'fusion.fc9')
