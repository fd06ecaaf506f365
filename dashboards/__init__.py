"""What a duty officer looks at: the web view (一屏统览) and the Prometheus,
Alertmanager and Grafana artefacts generated from the estate."""
