# MST-Distill on NYU-Depth-V2 (RGB student) in the public reference release's
# setting (Gray-OREO/MST-Distill 093b2fe; docs/method.md lists each item):
# - every reference_compat item of the method (see mst_avdigits_image_reference.py);
# - the release's label space: 41 outputs, void = class 0 with its own logit
#   channel (`define_FuseNet(num_labels=41)`), CE with ignore_index=0, so the
#   void channel is trained only by the KL terms, which cover every pixel
#   (dense_kd_divide_all);
# - its metric: pixels predicted as void are dropped (`utils.py` `metrics`,
#   scikit-learn confusion_matrix(labels=1..40));
# - its FuseNet: fusion by the mean, dropout 0.4, `init_net` re-initialising
#   every layer (the VGG16 checkpoint is then not loaded).
#   python tools/train.py configs/mst/ablations/mst_nyu_rgb_reference.py
_base_ = ['../mst_nyu_rgb.py']
void = 0
num_classes = 41
release_member = dict(
    num_classes=num_classes,
    ignore_index=void,
    dropout_ratio=0.4,
    init_mode='release',
    data_preprocessor=dict(seg_pad_val=void))
model = dict(
    reference_compat=True,
    data_preprocessor=dict(seg_pad_val=void),
    task=dict(type='SegTask', ignore_index=void),
    members=dict(
        mm=dict(release_member, fusion='mean'),
        rgb=release_member,
        depth=release_member))

# labels as stored: 0 = void, 1..40 the classes (41 in the metainfo)
train_dataloader = dict(dataset=dict(reduce_zero_label=False))
val_dataloader = dict(dataset=dict(reduce_zero_label=False))
test_dataloader = dict(dataset=dict(reduce_zero_label=False))
val_evaluator = dict(ignore_index=void, ignore_predicted_index=void)
test_evaluator = val_evaluator
