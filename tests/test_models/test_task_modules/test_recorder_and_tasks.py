"""Recorders (layer outputs by 'member:path') and the task components."""
import torch
import torch.nn as nn
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mstkd.models.task_modules import (ClsTask, MemberRecorder, SegTask,
                                       parse_record_key, record_key)


def test_record_keys():
    assert parse_record_key('mm:fusion.fc1') == ('mm', 'fusion.fc1')
    assert parse_record_key('image:') == ('image', '')
    assert parse_record_key('labels') is None
    assert record_key('mm', 'fc1') == 'mm:fc1' and record_key('a') == 'a:'


def test_recorder_records_without_changing_the_output():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = torch.randn(5, 3)
    plain = model(x)
    recorder = MemberRecorder('m', ['0', '1', ''])
    assert recorder.paths == ['0', '1']
    with recorder.record(model) as records:
        out = model(x)
    torch.testing.assert_close(out, plain)
    torch.testing.assert_close(records['m:0'], model[0](x))
    torch.testing.assert_close(records['m:1'], torch.relu(model[0](x)))
    assert set(records) == {'m:0', 'm:1'}
    assert all(not m._forward_hooks for m in model.modules())


def test_input_paths_record_what_a_layer_receives():
    """'fc@input': the (first) input of a layer, e.g. the pooled feature of
    the audio CNN's head; shapes by dry forward; a bad layer is listed."""
    from mstkd.models.task_modules import (LayerPathError,
                                           infer_feature_shapes)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(),
                          nn.Linear(2 * 4 * 4, 3))
    x = torch.randn(5, 1, 6, 6)
    with MemberRecorder('m', ['2@input', '2']).record(model) as records:
        model(x)
    torch.testing.assert_close(records['m:2@input'],
                               model[1](model[0](x)))
    torch.testing.assert_close(records['m:2'], model(x))
    shapes = infer_feature_shapes(model, ['2@input', '0'], x)
    assert shapes == {'2@input': torch.Size([32]),
                      '0': torch.Size([2, 4, 4])}
    try:
        MemberRecorder('m', ['3@input']).validate(model)
    except LayerPathError as err:
        assert "'3@input' is not a submodule" in str(err)
    else:
        raise AssertionError('a missing layer was accepted')


def test_cls_task():
    task = ClsTask()
    samples = dict(gt_label=torch.tensor([1, 0]),
                   sample_idx=torch.tensor([7, 3]))
    assert task.labels(samples).tolist() == [1, 0]
    assert task.valid_mask(task.labels(samples)) is None
    assert task.sample_ids(samples) == [7, 3]
    assert task.sample_ids(dict(gt_label=torch.tensor([1]))) is None
    preds = task.predictions(None, torch.tensor([[0.1, 0.9], [2.0, 0.0]]),
                             samples)
    assert [p['pred_label'].item() for p in preds] == [1, 0]
    assert [p['gt_label'].item() for p in preds] == [1, 0]


def test_seg_task_pads_labels_with_void():
    task = SegTask(ignore_index=255)
    samples = []
    for i, (h, w) in enumerate([(4, 5), (3, 6)]):
        s = SegDataSample(metainfo=dict(img_path=f'{i}.png'))
        s.gt_sem_seg = PixelData(data=torch.ones(1, h, w, dtype=torch.long))
        samples.append(s)
    labels = task.labels(samples)
    assert labels.shape == (2, 4, 6)
    assert (labels[0, :, 5] == 255).all() and (labels[1, 3] == 255).all()
    assert int(task.valid_mask(labels).sum()) == 4 * 5 + 3 * 6
    assert task.labels(samples, shape=(8, 8)).shape == (2, 8, 8)
    assert task.sample_ids(samples) == ['0.png', '1.png']
    samples[1].set_metainfo(dict(img_path=None))
    assert task.sample_ids(samples) is None
    assert task.ignore_index == 255 and ClsTask.ignore_index == -100
