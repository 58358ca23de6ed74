"""Student export (tools/model_converters/extract_student.py) and the
inference API on a tiny MST-Distill run: the extracted student scores
exactly as the full checkpoint; inference_model on the shipped samples
equals a forward pass on the dataset's own item."""
import glob
import json
import os.path as osp

import pytest
import torch

from mstkd.apis import inference_model, init_model, load_input
from mstkd.utils.errors import UserInputError
from tests.helpers import REPO, data_options, run_tool

MST = osp.join(REPO, 'configs', 'mst', 'mst_avdigits_image.py')
MEMBER = osp.join(REPO, 'configs', 'members', 'avdigits_image.py')
SAMPLES = osp.join(REPO, 'demo', 'samples')


def _ok(result):
    assert result.returncode == 0, (result.stdout[-3000:] +
                                    result.stderr[-3000:])
    return result.stdout + result.stderr


@pytest.fixture(scope='module')
def run(tiny_avdigits, tmp_path_factory):
    work = str(tmp_path_factory.mktemp('mst'))
    _ok(run_tool(['tools/train.py', MST, '--work-dir', work,
                  '--cfg-options', *data_options(tiny_avdigits),
                  'train_cfg.s1_epochs=1', 'train_cfg.s2_epochs=1',
                  'train_cfg.s3_epochs=1', 'model.masknet.projector=light']))
    return work, glob.glob(osp.join(work, 'best_CE_epoch_*.pth'))[0]


def _metrics(config, ckpt, npz, tmp_path, name):
    out = str(tmp_path / f'{name}.json')
    _ok(run_tool(['tools/test.py', config, ckpt, '--out', out, '--work-dir',
                  str(tmp_path / name), '--cfg-options',
                  *data_options(npz)]))
    return json.load(open(out))


def test_extracted_student_scores_as_the_full_checkpoint(
        run, tiny_avdigits, tmp_path):
    work, full = run
    out = str(tmp_path / 'student.pth')
    log = _ok(run_tool(['tools/model_converters/extract_student.py', full,
                        out, '--torchscript', '--onnx']))
    assert f'{full}: ' in log and f'{out}: ' in log and 'MiB' in log
    assert osp.getsize(out) < osp.getsize(full)
    student = torch.load(out, weights_only=True)  # weights only
    source = torch.load(full, map_location='cpu')['state_dict']
    want = {k[len('members.image.'):]: v for k, v in source.items()
            if k.startswith('members.image.')}
    assert {k[len('member.'):] for k in student['state_dict']} == set(want)
    for key, value in student['state_dict'].items():
        assert torch.equal(value, want[key[len('member.'):]])
    assert student['meta']['target'] == 'image'

    reference = _metrics(MST, full, tiny_avdigits, tmp_path, 'full')
    written = osp.splitext(out)[0] + '.py'
    assert _metrics(written, out, tiny_avdigits, tmp_path,
                    'student') == reference
    assert _metrics(MEMBER, out, tiny_avdigits, tmp_path,
                    'member') == reference

    # the TorchScript trace answers as the eager student
    traced = torch.jit.load(osp.splitext(out)[0] + '.torchscript.pt')
    model = init_model(written, out)
    x = load_input(osp.join(SAMPLES, 'avdigits_test1_digit5.png'))['image']
    with torch.no_grad():
        torch.testing.assert_close(traced(x[None]),
                                   model.member({'image': x[None]}))
    assert ('--onnx: the onnx package is not installed' in log or
            osp.isfile(osp.splitext(out)[0] + '.onnx'))


def test_inference_on_shipped_samples_equals_the_dataset_item(run):
    from mstkd.registry import DATASETS
    work, full = run
    model = init_model(MST, full)  # the whole distiller: its target answers
    dataset = DATASETS.build(dict(type='AVDigitsDataset', split='test',
                                  seed=0))
    for pos, digit in ((0, 8), (1, 5), (2, 8)):
        item = dataset[pos]
        assert int(item['data_samples']['gt_label']) == digit
        name = osp.join(SAMPLES, f'avdigits_test{pos}_digit{digit}')
        image = load_input(name + '.png')
        torch.testing.assert_close(image['image'], item['inputs']['image'],
                                   rtol=0, atol=0)
        # the WAV through the dataset's log-mel front end (112 x 112)
        audio = load_input(name + '.wav')
        torch.testing.assert_close(audio['audio'], item['inputs']['audio'],
                                   rtol=0, atol=1e-6)
        result = inference_model(model, name + '.png')
        with torch.no_grad():
            logits = model.members['image'](
                {'image': item['inputs']['image'][None]})
        probs = torch.softmax(logits, 1)[0]
        assert result['pred_label'] == int(probs.argmax())
        assert result['pred_class'] == str(int(probs.argmax()))
        assert result['probs'] == pytest.approx(probs.tolist(), abs=1e-6)
    with pytest.raises(UserInputError, match='reads the "image" modality'):
        inference_model(model, name + '.wav')
    batch = inference_model(model, {'image': torch.stack(
        [dataset[i]['inputs']['image'] for i in range(3)])})
    assert [r['pred_label'] for r in batch] == [
        inference_model(model, dataset[i]['inputs'])['pred_label']
        for i in range(3)]


def test_inference_demo_prints_a_prediction(run, tmp_path):
    work, full = run
    out = str(tmp_path / 'student.pth')
    _ok(run_tool(['tools/model_converters/extract_student.py', full, out]))
    log = _ok(run_tool(['demo/inference_demo.py',
                        osp.join(SAMPLES, 'avdigits_test1_digit5.png'),
                        '--checkpoint', out]))
    assert 'image student predicts class' in log
    missing = run_tool(['demo/inference_demo.py',
                        osp.join(SAMPLES, 'avdigits_test1_digit5.wav'),
                        '--checkpoint', str(tmp_path / 'none.pth')])
    assert missing.returncode == 2 and 'run `make demo` first' in \
        missing.stderr
