#include <cstdio>
int main() { std::puts("agency-ha " AHA_VERSION); return 0; }
