"""Engines that run xsell's jobs somewhere other than one Python process: Apache Spark."""
