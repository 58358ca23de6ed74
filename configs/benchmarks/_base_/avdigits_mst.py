# What the AV-Digits MST-Distill specs share (Tables 3, 7/8, routing, bf16):
# both students as the columns, 5 seeds, test OA, and the MST configs that
# a row without "cells" runs with its "options" (and "fork").
columns = dict(image='image student', audio='audio student')
average_column = True
seeds = [0, 1, 2, 3, 4]
epochs = 30
metrics = ['OA']
configs = dict(image='configs/mst/mst_avdigits_image.py',
               audio='configs/mst/mst_avdigits_audio.py')
