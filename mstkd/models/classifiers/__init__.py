from .member_classifier import MemberClassifier

__all__ = ['MemberClassifier']
