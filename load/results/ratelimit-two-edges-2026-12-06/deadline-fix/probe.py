import socket,time,sys
s=socket.create_connection(('127.0.0.1',18720)); s.setsockopt(socket.IPPROTO_TCP,socket.TCP_NODELAY,1)
end=time.time()+float(sys.argv[1]); rtts=[]
while time.time()<end:
    t=time.perf_counter(); s.sendall(b'PING\r\n'); s.recv(64); rtts.append((time.perf_counter()-t)*1000); time.sleep(0.005)
rtts.sort(); n=len(rtts)
print(f"pings={n} p50={rtts[n//2]:.1f} p99={rtts[int(n*.99)]:.1f} max={rtts[-1]:.1f} over100={sum(r>100 for r in rtts)} over50={sum(r>50 for r in rtts)}")
