# configure options of the static FFmpeg: only what ffstream uses.
# One option per line; '#' starts a comment. Lines "#needs-static: LIB PACKAGE"
# name a static library (libLIB.a) the build needs, and the Debian package
# that ships it.
#
# Licence: libx264 is GPL (--enable-gpl); mbedTLS (https) is Apache-2.0,
# which FFmpeg accepts only with --enable-version3. The result is GPL v3+.
#needs-static: x264 libx264-dev
#needs-static: mbedtls libmbedtls-dev
#needs-static: mbedx509 libmbedtls-dev
#needs-static: mbedcrypto libmbedtls-dev
#needs-static: z zlib1g-dev

--enable-static
--disable-shared
--enable-pic
--disable-programs
--disable-doc
--disable-debug
--disable-postproc
--disable-autodetect
--disable-everything
--enable-gpl
--enable-version3
--enable-libx264
--enable-mbedtls
--enable-zlib
--pkg-config-flags=--static

# Encoders: H.264 (libx264) and AAC.
--enable-encoder=libx264,aac

# Decoders of inputs worth supporting.
--enable-decoder=h264,hevc,vp8,vp9,mpeg4,mpeg2video,mpeg1video,mjpeg,rawvideo,png
--enable-decoder=aac,aac_latm,mp3,mp3float,mp2,ac3,eac3,opus,vorbis,flac,alac
--enable-decoder=pcm_s16le,pcm_s16be,pcm_s24le,pcm_s32le,pcm_f32le,pcm_u8,pcm_alaw,pcm_mulaw
--enable-decoder=mov_text,subrip,webvtt,ass,ssa
--enable-parser=h264,hevc,vp8,vp9,mpeg4video,mpegvideo,mjpeg,png
--enable-parser=aac,aac_latm,mpegaudio,ac3,opus,vorbis,flac

# Containers in: MP4/MOV, Matroska/WebM, MPEG-TS/PS, FLV, AVI, raw streams,
# WAV, Ogg, subtitles, and HLS manifests. (FFmpeg's DASH demuxer needs
# libxml2, which links ICU statically: about 30 MB more. Not included.)
--enable-demuxer=mov,matroska,mpegts,mpegps,flv,avi,h264,hevc,aac,mp3,ac3,eac3,wav,flac,ogg,ivf,srt,webvtt,ass,hls
# Containers out: HLS, DASH, and the files of `ffstream convert`.
--enable-muxer=hls,dash,mp4,mov,ipod,matroska,webm,mpegts,adts,mp3
--enable-encoder=mov_text,webvtt,subrip,ass,ssa
--enable-bsf=aac_adtstoasc,h264_mp4toannexb,hevc_mp4toannexb,extract_extradata,vp9_superframe,vp9_superframe_split,null

# Protocols: local files and pipes, HTTP(S) in and PUT out, AES for HLS inputs.
--enable-protocol=file,pipe,http,https,tcp,tls,crypto,udp
# Filters used by ffstream (rotation, resampling, the demo clip) and the
# conversions libavfilter inserts by itself.
--enable-filter=buffer,buffersink,abuffer,abuffersink,format,aformat,scale,aresample,transpose,hflip,vflip,trim,atrim,testsrc2,sine,null,anull
# Capture: V4L2 cameras (no extra library). No screen capture (x11grab
# needs static libxcb).
--enable-indev=v4l2
