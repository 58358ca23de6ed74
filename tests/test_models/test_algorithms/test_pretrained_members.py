"""Members that start from a checkpoint: a member run (MemberClassifier's
``member.`` prefix), a distiller run (``members.<name>.``) or a plain state
dict; clear errors for a missing file or a checkpoint that does not fit."""
import pytest
import torch

from mstkd.models import ConfigurableDistiller, MemberClassifier
from mstkd.registry import MODELS
from mstkd.utils.errors import DataNotFoundError, UserInputError

C = 4


def mlp(modality, dim, hidden=(6, )):
    return dict(type='MLP', in_channels=dim, hidden_channels=hidden,
                num_classes=C, modality=modality)


def distiller(pretrained, teacher_hidden=(6, )):
    return ConfigurableDistiller(
        members=dict(teacher=mlp('b', 5, teacher_hidden),
                     student=mlp('a', 3)),
        target='student', pretrained=pretrained,
        losses=dict(loss_ce=dict(type='CrossEntropyLoss')),
        loss_forward_mappings=dict(
            loss_ce=dict(logits='student:', labels='labels')))


def same(module, state):
    return all(torch.equal(v, state[k])
               for k, v in module.state_dict().items())


@pytest.mark.parametrize('kind', ['member_run', 'distiller_run', 'plain'])
def test_loaded_in_init_weights(kind, tmp_path):
    torch.manual_seed(1)
    source = MODELS.build(mlp('b', 5))
    state = source.state_dict()
    path = str(tmp_path / f'{kind}.pth')
    if kind == 'member_run':  # what tools/train.py configs/members/... saves
        run = MemberClassifier(member=mlp('b', 5))
        run.member.load_state_dict(state)
        torch.save(dict(meta={}, state_dict=run.state_dict()), path)
    elif kind == 'distiller_run':  # e.g. an MST s1_end.pth
        torch.save(dict(state_dict={f'members.teacher.{k}': v
                                    for k, v in state.items()}), path)
    else:
        torch.save(state, path)
    model = distiller(dict(teacher=path))
    assert not same(model.members['teacher'], state)
    model.init_weights()
    assert same(model.members['teacher'], state)


def test_member_under_another_name(tmp_path):
    torch.manual_seed(2)
    source = MODELS.build(mlp('b', 5))
    path = str(tmp_path / 's1_end.pth')
    torch.save(dict(state_dict={f'members.mm.{k}': v for k, v in
                                source.state_dict().items()}), path)
    model = distiller(dict(teacher=dict(checkpoint=path, member='mm')))
    model.init_weights()
    assert same(model.members['teacher'], source.state_dict())


def test_missing_file_names_the_command(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(DataNotFoundError) as info:
        distiller(dict(teacher=dict(
            checkpoint=missing, config='configs/members/avdigits_fusion.py')))
    msg = str(info.value)
    assert missing in msg
    assert 'python tools/train.py configs/members/avdigits_fusion.py' in msg
    assert 'work_dirs/avdigits_fusion/best_CE_epoch_' in msg
    with pytest.raises(UserInputError, match='not a member'):
        distiller(dict(teachr=missing))
    with pytest.raises(UserInputError, match='checkpoint required'):
        distiller(dict(teacher=dict(path=missing)))


def test_checkpoint_that_does_not_fit_lists_the_keys(tmp_path):
    torch.manual_seed(3)
    other = MODELS.build(mlp('b', 5, hidden=(6, 6)))  # one more layer
    path = str(tmp_path / 'other.pth')
    torch.save(other.state_dict(), path)
    with pytest.raises(UserInputError) as info:
        distiller(dict(teacher=path)).init_weights()
    assert 'fc2.weight: checkpoint (6, 6) vs member (4, 6)' in str(info.value)
    torch.save({k: v for k, v in other.state_dict().items()
                if not k.startswith('fc3.')}, path)  # the head is missing
    with pytest.raises(UserInputError) as info:
        distiller(dict(teacher=path), teacher_hidden=(6, 6)).init_weights()
    msg = str(info.value)
    assert 'missing keys (2): fc3.weight, fc3.bias' in msg
    assert 'strict=False' in msg
    # strict=False loads the matching keys (shapes permitting) and says so
    small = MODELS.build(mlp('b', 5))
    torch.save(dict(small.state_dict(), extra=torch.zeros(1)), path)
    loose = distiller(dict(teacher=dict(checkpoint=path, strict=False)))
    loose.init_weights()
    assert same(loose.members['teacher'], small.state_dict())
    bad = str(tmp_path / 'bad.pth')
    with open(bad, 'wb') as f:
        f.write(b'not a checkpoint')
    with pytest.raises(UserInputError, match='cannot read'):
        distiller(dict(teacher=bad)).init_weights()
