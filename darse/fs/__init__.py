"""Safe writes under folders that an image, a build context or a container controls.

`root` resolves paths inside such a folder as if it were '/' and makes entries there
through directory file descriptors; `copy` copies a tree from one root into another.
Layer unpacking, build COPY/ADD, volume copy-up and owner-shifted layer copies all write
through them, so there is one mechanism to get right.
"""
