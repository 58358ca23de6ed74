# Figure 5: multimodal teacher only (N = 2).
_base_ = ['../mst_avdigits_image.py']
model = dict(teachers=dict(_delete_=True, mm=['fusion.concat', 'fusion.fc1']))
