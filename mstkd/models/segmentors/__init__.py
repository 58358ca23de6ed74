"""FuseNet segmentors (NYU-Depth-V2 members), registered in mstkd's and
mmseg's MODELS registries."""
from .fusenet import (MODALITY_CHANNELS, ElementwiseFusion, FuseNet,
                      FuseNetBranch, FuseNetSegmentor)
from .unpool_decoder import UnpoolBlock, UnpoolDecoder
from .vgg_checkpoint import (is_vgg_state_dict, load_state_dict_file,
                             load_vgg_into_encoder, split_vgg_layers)
from .vgg_encoder import EncoderOutput, VGGEncoder

__all__ = [
    'FuseNet', 'FuseNetBranch', 'FuseNetSegmentor', 'ElementwiseFusion',
    'MODALITY_CHANNELS', 'VGGEncoder', 'EncoderOutput', 'UnpoolDecoder',
    'UnpoolBlock', 'load_state_dict_file', 'is_vgg_state_dict',
    'split_vgg_layers', 'load_vgg_into_encoder'
]
