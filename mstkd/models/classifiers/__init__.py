from .member_classifier import MemberClassifier, pack_predictions

__all__ = ['MemberClassifier', 'pack_predictions']
