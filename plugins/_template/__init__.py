"""The adapter template: the ``myats`` adapter for an imaginary ATS, MyATS, to copy and rename.

Not registered as an entry point, so the hub never loads it: copy the folder into your own package and
register the copy (docs/plugins.md, "Start from the template"). Its modules import each other
relatively, so the copy works under any package name without edits.
"""
