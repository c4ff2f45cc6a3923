"""Measuring: the meters, the engine that reads them around calls and rounds, candidates
side by side, carbon, and native builds. Nothing here knows pytest."""
