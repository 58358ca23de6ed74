"""Student export (tools/model_converters/extract_student.py) and the
inference API on a tiny MST-Distill run: the extracted student scores
exactly as the full checkpoint; inference_model on the shipped samples
equals a forward pass on the dataset's own item. NYU-Depth-V2
segmentation: the label map of image files equals the member's forward
pass on the dataset's item, and its colourised PNG maps back to it."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch

from mstkd.apis import (colorize_label_map, default_palette, inference_model,
                        init_model, load_input, load_nyu_input,
                        save_segmentation_png)
from mstkd.utils.errors import UserInputError
from tests.helpers import REPO, data_options, run_tool
from tests.nyu_data import make_nyu_root

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


# ----------------------------------------------------------------------
# NYU-Depth-V2 segmentation
# ----------------------------------------------------------------------
NYU_MEMBERS = osp.join(REPO, 'configs', 'members')
MST_NYU = osp.join(REPO, 'configs', 'mst', 'mst_nyu_rgb.py')
NYU_TINY = (4, 8, 8, 16, 16)  # FuseNet widths for a CPU test
NYU_H, NYU_W = 40, 48  # not multiples of 32: the preprocessor pads


def _nyu_options(root, prefix='model.'):
    opts = {f'{loader}.dataset.data_root': root for loader in
            ('train_dataloader', 'val_dataloader', 'test_dataloader')}
    opts[f'{prefix}channels'] = NYU_TINY
    return opts


@pytest.fixture(scope='module')
def nyu(tmp_path_factory):
    """A tiny converted NYU root and an RGB member with random (MSRA)
    weights saved as a checkpoint, with its resolved config."""
    from mstkd.registry import DATASETS
    tmp = tmp_path_factory.mktemp('nyu_infer')
    root = make_nyu_root(str(tmp), n=6, h=NYU_H, w=NYU_W, with_splits=False)
    model = init_model(osp.join(NYU_MEMBERS, 'nyu_rgb.py'),
                       cfg_options=_nyu_options(root))
    torch.manual_seed(0)
    model.init_weights()  # MSRA: the label maps have many classes
    ckpt, config = str(tmp / 'rgb.pth'), str(tmp / 'rgb.py')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    model.cfg.dump(config)
    dataset = DATASETS.build(model.cfg.test_dataloader.dataset)
    item = dataset[0]
    rgb = item['data_samples'].img_path
    depth = osp.join(root, 'depths', osp.basename(rgb))
    return dict(root=root, ckpt=ckpt, config=config, dataset=dataset,
                item=item, rgb=rgb, depth=depth, tmp=tmp)


def _direct_labels(net, x):
    """argmax of the network on a [B, 4, H, W] tensor, padded to a
    multiple of 32 with zeros (as the config's preprocessor) and cropped."""
    h, w = x.shape[-2:]
    padded = torch.nn.functional.pad(x, (0, -w % 32, 0, -h % 32))
    with torch.no_grad():
        logits = net(padded)
    return logits[:, :, :h, :w].argmax(1).numpy()


def test_nyu_segmentation_equals_the_members_forward(nyu):
    model = init_model(nyu['config'], nyu['ckpt'])
    item = nyu['item']
    # the files through the config's pipeline give the dataset's tensor
    loaded = load_nyu_input(nyu['rgb'], nyu['depth'],
                            dict(model.cfg.test_dataloader.dataset))
    torch.testing.assert_close(loaded['rgb'], item['inputs'][:3],
                               rtol=0, atol=0)
    torch.testing.assert_close(loaded['depth'], item['inputs'][3:],
                               rtol=0, atol=0)

    result = inference_model(model, nyu['rgb'], depth=nyu['depth'])
    labels = result['pred_sem_seg']
    assert isinstance(labels, np.ndarray) and labels.dtype == np.int64
    assert labels.shape == (NYU_H, NYU_W)
    assert 0 <= labels.min() and labels.max() < 40
    assert result['modality'] == 'rgb'
    assert result['probs_shape'] == (40, NYU_H, NYU_W)
    assert len(result['classes']) == len(result['palette']) == 40
    assert result['classes'][0] == 'wall'
    assert result['rgb_stats']['source'].endswith('meta.json')
    assert 0 < result['pred_score'] <= 1
    want = _direct_labels(model, item['inputs'][None])[0]
    np.testing.assert_array_equal(labels, want)
    assert len(np.unique(labels)) > 1
    # the RGB student needs no depth map
    np.testing.assert_array_equal(
        inference_model(model, nyu['rgb'])['pred_sem_seg'], want)
    # preprocessed inputs: the dataset item, its tensor, {modality: tensor},
    # a batch
    for given in (item, item['inputs'], {'rgb': item['inputs'][:3]}):
        np.testing.assert_array_equal(
            inference_model(model, given)['pred_sem_seg'], want)
    batch = torch.stack([nyu['dataset'][i]['inputs'] for i in range(2)])
    results = inference_model(model, batch)
    assert isinstance(results, list) and len(results) == 2
    direct = _direct_labels(model, batch)
    for got, ref in zip(results, direct):
        np.testing.assert_array_equal(got['pred_sem_seg'], ref)

    # a full MST-Distill checkpoint: its target member (rgb) answers
    opts = _nyu_options(nyu['root'], prefix='model.members.rgb.')
    opts.update({f'model.members.{m}.channels': NYU_TINY
                 for m in ('mm', 'depth')})
    mst = init_model(MST_NYU, cfg_options=opts)
    mst.members['rgb'].load_state_dict(model.state_dict())
    mst_ckpt = str(nyu['tmp'] / 'mst.pth')
    torch.save(dict(state_dict=mst.state_dict(), meta={}), mst_ckpt)
    mst = init_model(MST_NYU, mst_ckpt, cfg_options=opts)
    got = inference_model(mst, nyu['rgb'], depth=nyu['depth'])
    assert got['modality'] == 'rgb'
    np.testing.assert_array_equal(got['pred_sem_seg'], want)
    np.testing.assert_array_equal(
        got['pred_sem_seg'],
        _direct_labels(mst.members['rgb'], item['inputs'][None])[0])


def test_nyu_colourised_png_maps_back_to_the_labels(nyu, tmp_path):
    import cv2

    from mstkd.datasets.nyu_depth_v2 import NYU_PALETTE
    model = init_model(nyu['config'], nyu['ckpt'])
    result = inference_model(model, nyu['rgb'], depth=nyu['depth'])
    labels, palette = result['pred_sem_seg'], result['palette']
    assert palette == NYU_PALETTE  # the dataset's metainfo palette
    out = save_segmentation_png(labels, str(tmp_path / 'sub' / 'seg.png'),
                                palette)
    image = cv2.imread(out, cv2.IMREAD_UNCHANGED)
    assert image is not None and image.shape == (NYU_H, NYU_W, 3)
    assert image.dtype == np.uint8
    rgb = image[..., ::-1].reshape(-1, 3)
    colours = {tuple(c) for c in rgb.tolist()}
    assert len(colours) == len(np.unique(labels)) > 1  # not blank
    back = {tuple(c): i for i, c in enumerate(palette)}
    assert len(back) == len(palette)  # distinct colours
    decoded = np.array([back[tuple(c)] for c in rgb.tolist()])
    np.testing.assert_array_equal(decoded.reshape(labels.shape), labels)
    # the fixed default palette: deterministic, distinct, NYU's for 40
    assert default_palette(40) == NYU_PALETTE
    assert len({tuple(c) for c in default_palette(255)}) == 255
    small = np.array([[0, 1], [2, 255]])
    np.testing.assert_array_equal(
        colorize_label_map(small),
        np.array(default_palette(256), np.uint8)[small])
    np.testing.assert_array_equal(
        colorize_label_map(small, palette[:3])[1, 1], [0, 0, 0])  # void


def test_nyu_wrong_modality_is_a_clear_error(nyu):
    model = init_model(nyu['config'], nyu['ckpt'])
    item = nyu['item']
    with pytest.raises(UserInputError,
                       match='"rgb" student reads the "rgb" modality; the '
                       r"inputs give \['depth'\]"):
        inference_model(model, {'depth': item['inputs'][3:]})
    with pytest.raises(UserInputError,
                       match='16-bit single-channel image .a depth map'):
        inference_model(model, nyu['depth'])  # the depth map as RGB
    with pytest.raises(UserInputError, match=r'\[4, H, W\] RGB-D image'):
        inference_model(model, item['inputs'][:3])
    depth_member = init_model(osp.join(NYU_MEMBERS, 'nyu_depth.py'),
                              cfg_options=_nyu_options(nyu['root']))
    with pytest.raises(UserInputError,
                       match='reads the "depth" modality: give a depth map'):
        inference_model(depth_member, nyu['rgb'])
    # the depth student on the depth map alone
    result = inference_model(depth_member, None, depth=nyu['depth'])
    assert result['modality'] == 'depth'
    assert result['pred_sem_seg'].shape == (NYU_H, NYU_W)


def test_nyu_inference_demo_writes_the_png(nyu, tmp_path):
    import cv2
    out = str(tmp_path / 'seg.png')
    log = _ok(run_tool(['demo/inference_demo.py', nyu['rgb'], '--depth',
                        nyu['depth'], '--config', nyu['config'],
                        '--checkpoint', nyu['ckpt'], '--out', out]))
    assert f'{out}: {NYU_H}x{NYU_W} (H x W) segmentation by the rgb model' \
        in log and 'top classes by pixel share: ' in log
    image = cv2.imread(out)
    assert image is not None and image.shape == (NYU_H, NYU_W, 3)
    result = inference_model(init_model(nyu['config'], nyu['ckpt']),
                             nyu['rgb'], depth=nyu['depth'])
    np.testing.assert_array_equal(
        image[..., ::-1],
        colorize_label_map(result['pred_sem_seg'], result['palette']))
