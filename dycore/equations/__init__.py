"""Equation sets. Currently: the rotating shallow-water equations."""
