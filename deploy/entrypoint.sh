#!/bin/sh
# Every container of the deployment starts here (the webserver, the daemon, each run): the data volume mounted at
# $ENDOBENCH_DATA_DIR gets a sample/ that points at the image's bundled files, then the container's command runs.
set -eu
IMAGE_SAMPLE=/opt/endobench/sample
mkdir -p "$ENDOBENCH_DATA_DIR"
if [ ! -e "$ENDOBENCH_DATA_DIR/sample" ] || [ -L "$ENDOBENCH_DATA_DIR/sample" ]; then
    ln -sfn "$IMAGE_SAMPLE" "$ENDOBENCH_DATA_DIR/sample"
fi
exec "$@"
