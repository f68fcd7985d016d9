# plugins/virtio-admin/local.mk
