"""Activation, loss and numerical-gradient functions shared by the chapters (book: common/)."""
