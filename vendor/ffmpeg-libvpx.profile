# Optional: VP9 encoding with libvpx (BSD-3-Clause). FFSTREAM_FFMPEG_OPTIONAL=libvpx
#needs-static: vpx libvpx-dev
--enable-libvpx
--enable-encoder=libvpx_vp9
