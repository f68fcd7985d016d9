/*
 * tiny_client.c: a third-party C client, built by
 * test/integration/test_install.py against an installed tree only
 * (`pkg-config --cflags --libs vmigclient`, <vmig/client.h>,
 * libvmigclient.a): GetVersion and ListDevices, printed one fact a line.
 *
 *	tiny_client URL
 */
#include <stdio.h>

#include <vmig/client.h>

static int
call(struct vmig_client *c, Vmig__V1__Request *req, Vmig__V1__Response **r)
{
	char	err[512];

	if (vmig_client_call(c, req, r, err, sizeof(err)) != 0) {
		fprintf(stderr, "tiny_client: %s\n", err);
		return (-1);
	}
	if ((*r)->status->code != VMIG__V1__STATUS_CODE__STATUS_OK) {
		fprintf(stderr, "tiny_client: %s: %s\n",
		    vmig_status_name((*r)->status->code),
		    (*r)->status->message);
		vmig_client_free(*r);
		return (-1);
	}
	return (0);
}

int
main(int argc, char **argv)
{
	Vmig__V1__Request		 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__GetVersionRequest	 gv = VMIG__V1__GET_VERSION_REQUEST__INIT;
	Vmig__V1__ListDevicesRequest	 ld = VMIG__V1__LIST_DEVICES_REQUEST__INIT;
	Vmig__V1__Response		*r;
	struct vmig_client		*c;
	char				 err[512];
	size_t				 i;

	if (argc != 2) {
		fprintf(stderr, "usage: tiny_client URL\n");
		return (2);
	}
	if ((c = vmig_client_open(argv[1], 10000, err, sizeof(err))) == NULL) {
		fprintf(stderr, "tiny_client: %s\n", err);
		return (3);
	}
	req.call_case = VMIG__V1__REQUEST__CALL_GET_VERSION;
	req.get_version = &gv;
	if (call(c, &req, &r) != 0)
		goto fail;
	printf("version %s api %u\n", r->get_version->version,
	    r->get_version->api_version);
	vmig_client_free(r);

	req.request_id = 0;
	req.call_case = VMIG__V1__REQUEST__CALL_LIST_DEVICES;
	req.list_devices = &ld;
	if (call(c, &req, &r) != 0)
		goto fail;
	for (i = 0; i < r->list_devices->n_backends; i++)
		printf("backend %s\n", r->list_devices->backends[i]->name);
	for (i = 0; i < r->list_devices->n_pfs; i++)
		printf("pf %s %s %s\n", r->list_devices->pfs[i]->name,
		    r->list_devices->pfs[i]->online ? "online" : "offline",
		    r->list_devices->pfs[i]->backend);
	for (i = 0; i < r->list_devices->n_devices; i++)
		printf("device %s\n", r->list_devices->devices[i]->name);
	vmig_client_free(r);
	vmig_client_close(c);
	return (0);
fail:
	vmig_client_close(c);
	return (1);
}
