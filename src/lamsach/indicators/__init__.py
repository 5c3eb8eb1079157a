"""Threat indicators: the CERT's lists, read from every format, normalised and guarded."""

from lamsach.indicators.model import Indicator, IndicatorType

__all__ = ["Indicator", "IndicatorType"]
